import { describe, expect, it } from "vitest";
import { type InstanceMetrics, MinuteWindows, renderMetrics } from "./metrics.ts";

function instance(received: number, written: number): InstanceMetrics {
  return {
    kind: "sink",
    tenant: "public",
    namespace: "default",
    name: "db",
    instanceId: 0,
    counters: {
      received,
      written,
      connectorExceptions: 0,
      systemExceptions: 0,
      deadLettered: 0,
      dropped: 0,
      lastReceivedTime: 0,
      userMetrics: new Map(),
      writeLatency: { counts: [] },
    } as InstanceMetrics["counters"],
    recentExceptions: { connector: [], system: [] },
  };
}

const series = (text: string, metric: string) => new RegExp(`^${metric}\\{[^}]*\\} (\\d+)$`, "m").exec(text)?.[1];

describe("_1min counters", () => {
  it("count what was gained in the current minute and start again after it", () => {
    let now = 0;
    const windows = new MinuteWindows(() => now);
    renderMetrics([instance(100, 90)], "standalone", windows);
    now = 30_000;
    const half = renderMetrics([instance(160, 150)], "standalone", windows);
    expect(series(half, "pulsar_sink_received_total")).toBe("160");
    expect(series(half, "pulsar_sink_received_total_1min")).toBe("60");
    expect(series(half, "pulsar_sink_written_total_1min")).toBe("60");
    now = 61_000;
    const next = renderMetrics([instance(170, 155)], "standalone", windows);
    expect(series(next, "pulsar_sink_received_total_1min")).toBe("0");
    now = 70_000;
    const later = renderMetrics([instance(175, 165)], "standalone", windows);
    expect(series(later, "pulsar_sink_received_total_1min")).toBe("5");
    expect(series(later, "pulsar_sink_written_total_1min")).toBe("10");
    expect(later).not.toContain("pulsar_sink_last_invocation_1min");
  });
});
