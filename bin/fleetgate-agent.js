#!/usr/bin/env node
// Runs the compiled agent CLI; `npm ci` builds it (the package's prepare script).
import { main } from "../dist/agent/cli/main.js";

await main(process.argv);
