import { writeFileSync } from "node:fs";
import { junitReport } from "../../coordinator/reports/junit.js";
import { gateRun } from "./run-report.fixture.js";
writeFileSync("/tmp/g1.xml", junitReport(gateRun()));
