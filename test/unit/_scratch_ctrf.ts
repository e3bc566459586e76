import { writeFileSync } from "node:fs";
import { ctrfReport } from "../../coordinator/reports/ctrf.js";
import { judgeRun } from "../../coordinator/judgement/verdict.js";
import { gateRun } from "./run-report.fixture.js";
writeFileSync("/tmp/g1.ctrf.json", ctrfReport(gateRun(), judgeRun(gateRun())));
