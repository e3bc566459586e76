#!/usr/bin/env node
// Runs the compiled coordinator CLI; `npm ci` builds it (the package's prepare script).
import { main } from "../dist/coordinator/cli/main.js";

await main(process.argv);
