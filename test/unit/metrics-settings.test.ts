// --metrics-listen on both daemons resolves like every setting (flag > env > file > default, off by
// default), and the agent's instruments count what its connection and task runner tell them.
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { resolveAgentSettings } from "../../agent/cli/settings.js";
import { AgentMetrics } from "../../agent/daemon/metrics.js";
import { resolveServeSettings } from "../../coordinator/cli/serve-config.js";
import { CheckResultSchema } from "../../shared/gen/fleetgate/v1/common_pb.js";

const from = (s: { value: unknown; from: string; via: string }) => [s.value, s.from, s.via];

describe("--metrics-listen", () => {
  it("is off by default on both daemons, and taken from the flag, else the env, else the file", () => {
    const serve = (flag?: string, env: NodeJS.ProcessEnv = {}, file?: string) => resolveServeSettings({ san: [], metricsListen: flag }, env, { metrics_listen: file }).metricsListen;
    expect(from(serve())).toEqual([undefined, "default", ""]);
    expect(from(serve(undefined, {}, "0.0.0.0:9464"))).toEqual(["0.0.0.0:9464", "file", "metrics_listen"]);
    expect(from(serve(undefined, { FLEETGATE_METRICS_LISTEN: "127.0.0.1:1" }, "0.0.0.0:9464"))).toEqual(["127.0.0.1:1", "env", "FLEETGATE_METRICS_LISTEN"]);
    expect(from(serve("127.0.0.1:2", { FLEETGATE_METRICS_LISTEN: "127.0.0.1:1" }, "0.0.0.0:9464"))).toEqual(["127.0.0.1:2", "flag", "--metrics-listen"]);

    const agent = (flag?: string, env: NodeJS.ProcessEnv = {}, file?: string) => resolveAgentSettings({ label: {}, metricsListen: flag }, env, { metrics_listen: file }).metricsListen;
    expect(from(agent())).toEqual([undefined, "default", ""]);
    expect(from(agent(undefined, {}, "[::1]:9465"))).toEqual(["[::1]:9465", "file", "metrics_listen"]);
    expect(from(agent(undefined, { FLEETGATE_AGENT_METRICS_LISTEN: "127.0.0.1:1" }, "[::1]:9465"))).toEqual(["127.0.0.1:1", "env", "FLEETGATE_AGENT_METRICS_LISTEN"]);
    expect(from(agent("127.0.0.1:2", { FLEETGATE_AGENT_METRICS_LISTEN: "127.0.0.1:1" }))).toEqual(["127.0.0.1:2", "flag", "--metrics-listen"]);
  });
});

function value(scrape: string, sample: string): number | undefined {
  const line = scrape.split("\n").find((l) => l.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.slice(sample.length + 1));
}

describe("the agent's metrics", () => {
  it("counts reconnects after the first registration, events unacked at each disconnect, and whether it is connected", async () => {
    const m = new AgentMetrics();
    m.registered("10.0.0.1:7400");
    let text = (await m.scrape()).body;
    expect([value(text, "fleetgate_agent_reconnects_total"), value(text, "fleetgate_agent_connected")]).toEqual([0, 1]);
    m.streamEnded(3);
    m.registered("10.0.0.2:7400");
    m.streamEnded(2);
    text = (await m.scrape()).body;
    expect([value(text, "fleetgate_agent_reconnects_total"), value(text, "fleetgate_agent_connected"), value(text, "fleetgate_agent_events_unacked_at_disconnect_total")]).toEqual([1, 0, 5]);
  });

  it("names the coordinator it last registered with, and only that one", async () => {
    const m = new AgentMetrics();
    m.registered("10.0.0.1:7400");
    expect(value((await m.scrape()).body, 'fleetgate_agent_coordinator{address="10.0.0.1:7400"}')).toBe(1);
    // A failover: the agent moved to the active coordinator.
    m.streamEnded(0);
    m.registered("10.0.0.2:7400");
    const text = (await m.scrape()).body;
    expect(text.split("\n").filter((l) => l.startsWith("fleetgate_agent_coordinator{"))).toEqual(['fleetgate_agent_coordinator{address="10.0.0.2:7400"} 1']);
  });

  it("reads the spool's depth at each scrape and times checks by kind", async () => {
    const m = new AgentMetrics();
    let pending = 7;
    m.watchSpool({ pendingCount: () => pending, usedBytes: () => 4096 });
    m.checkFinished(create(CheckResultSchema, { kind: "http", durationMs: 250n }));
    let text = (await m.scrape()).body;
    expect([value(text, "fleetgate_agent_spool_events"), value(text, "fleetgate_agent_spool_bytes")]).toEqual([7, 4096]);
    expect(value(text, 'fleetgate_agent_check_duration_seconds_sum{kind="http"}')).toBe(0.25);
    pending = 0;
    text = (await m.scrape()).body;
    expect(value(text, "fleetgate_agent_spool_events")).toBe(0);
  });
});
