// What one webhook is sent for an alert event, by format. Pure. json: the alert as kept (a generic
// receiver decides); slack: an incoming-webhook body {"text": …}; ntfy: a plain text body with
// the Title, Priority and Tags headers of ntfy's publish API (docs.ntfy.sh/publish).
import { alertPriority } from "./kinds.js";
import type { AlertRecord, WebhookFormat } from "./record.js";

export interface WebhookRequest {
  headers: Record<string, string>;
  body: string;
}

/** One line a person reads: "RESOLVED node_offline node-b: node-b is back online". */
export function alertLine(alert: AlertRecord, event: "raised" | "resolved"): string {
  const head = event === "resolved" ? "RESOLVED" : "ALERT";
  const summary = event === "resolved" ? alert.resolvedSummary || alert.summary : alert.summary;
  return `${head} ${alert.kind} ${alert.subject}: ${summary}`;
}

/** HTTP header values may not carry control characters, and Node refuses anything past Latin-1. */
function headerText(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, "?").slice(0, 200);
}

export function webhookRequest(alert: AlertRecord, event: "raised" | "resolved", format: WebhookFormat): WebhookRequest {
  const line = alertLine(alert, event);
  switch (format) {
    case "json": {
      const { deliveries: _, ...kept } = alert;
      return { headers: { "content-type": "application/json" }, body: JSON.stringify({ event, text: line, alert: kept }) };
    }
    case "slack":
      return { headers: { "content-type": "application/json" }, body: JSON.stringify({ text: line }) };
    case "ntfy": {
      const resolved = event === "resolved";
      const details = Object.entries(alert.details).map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`);
      return {
        headers: {
          "content-type": "text/plain; charset=utf-8",
          Title: headerText(`fleetgate ${resolved ? "resolved" : "alert"}: ${alert.kind} ${alert.subject}`),
          Priority: resolved ? "default" : alertPriority(alert.kind),
          Tags: resolved ? "white_check_mark,fleetgate" : "warning,fleetgate",
        },
        body: [resolved ? alert.resolvedSummary || alert.summary : alert.summary, ...details].join("\n"),
      };
    }
  }
}
