import { markdownReport } from "../../coordinator/reports/markdown.js";
import { gateRun } from "../../test/unit/run-report.fixture.js";
process.stdout.write(markdownReport(gateRun()));
