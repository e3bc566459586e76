// Every report format by the name `coord report --format` takes. Each is a pure function of a
// stored run and its judgement: same input, same bytes.
import type { RunRecord } from "../../shared/gen/fleetgate/v1/control_pb.js";
import type { Judgement } from "../judgement/types.js";
import { ctrfReport } from "./ctrf.js";
import { htmlReport } from "./html.js";
import { jsonReport } from "./json.js";
import { junitReport } from "./junit.js";
import { markdownReport } from "./markdown.js";

export type Report = (run: RunRecord, judgement: Judgement) => string;

export const REPORT_FORMATS = {
  md: markdownReport,
  html: htmlReport,
  junit: junitReport,
  ctrf: ctrfReport,
  json: jsonReport,
} satisfies Record<string, Report>;

export type ReportFormat = keyof typeof REPORT_FORMATS;

export const FORMAT_NAMES = Object.keys(REPORT_FORMATS) as ReportFormat[];
