// Every report format by the name `coord report --format` takes. Each is a pure function of a
// stored run and its judgement: same input, same bytes. A format's renderer is imported when it is
// asked for, so `coord` does not load the XML builder (say) to write markdown.
import type { RunRecord } from "../../shared/gen/fleetgate/v1/control_pb.js";
import type { Judgement } from "../judgement/types.js";

export type Report = (run: RunRecord, judgement: Judgement) => string;

const LOADERS = {
  md: async () => (await import("./markdown.js")).markdownReport,
  html: async () => (await import("./html.js")).htmlReport,
  junit: async () => (await import("./junit.js")).junitReport,
  ctrf: async () => (await import("./ctrf.js")).ctrfReport,
  json: async () => (await import("./json.js")).jsonReport,
} satisfies Record<string, () => Promise<Report>>;

export type ReportFormat = keyof typeof LOADERS;

export const FORMAT_NAMES = Object.keys(LOADERS) as ReportFormat[];

/** The renderer of one format. */
export function loadReport(format: ReportFormat): Promise<Report> {
  return LOADERS[format]();
}
