// coord.yaml's `alerts:` block: where alerts are POSTed and how long a repeat stays quiet.
import { z } from "zod";
import { parseDuration } from "../../shared/durations.js";
import { DurationSchema } from "../../shared/model/suite.js";
import { DEFAULT_DEDUP_WINDOW_MS, type Webhook } from "./alerts.js";

const WebhookSchema = z.strictObject({
  url: z.string().refine((u) => /^https?:\/\/[^/]/.test(u) && URL.canParse(u), { message: "expected an http:// or https:// URL" }),
  /** json: the alert as kept; slack: {"text": …}; ntfy: text body with Title/Priority/Tags headers. */
  format: z.enum(["json", "slack", "ntfy"]).default("json"),
});

export const AlertsConfigSchema = z.strictObject({
  webhooks: z.array(WebhookSchema).default([]),
  dedup_window: DurationSchema.optional(),
});
export type AlertsConfig = z.infer<typeof AlertsConfigSchema>;

export function alertSettings(config: AlertsConfig | undefined): { webhooks: Webhook[]; dedupWindowMs: number } {
  return {
    webhooks: config?.webhooks ?? [],
    dedupWindowMs: config?.dedup_window ? parseDuration(config.dedup_window) : DEFAULT_DEDUP_WINDOW_MS,
  };
}
