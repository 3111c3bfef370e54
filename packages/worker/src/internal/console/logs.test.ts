import { describe, expect, it } from "vitest";
import { ConnectorLogs } from "./logs.ts";

const line = (fields: Record<string, unknown>) => JSON.stringify({ level: 30, time: 1, service: "w", ...fields });

describe("ConnectorLogs", () => {
  it("keeps lines by connector and kind, and ignores lines of none and lines that are not JSON", () => {
    const logs = new ConnectorLogs();
    logs.add(line({ kind: "sink", fqfn: "t/n/a", instanceId: 0, msg: "started", topic: "x" }));
    logs.add(line({ kind: "source", fqfn: "t/n/a", msg: "source line" }));
    logs.add(line({ msg: "worker started" }));
    logs.add("not json {");
    logs.add("null");
    const sink = logs.since("sink", "t/n/a", 0);
    expect(sink).toEqual([
      { seq: 1, time: 1, level: "info", instanceId: 0, message: "started", fields: { topic: "x" } },
    ]);
    expect(logs.since("source", "t/n/a", 0).map((entry) => entry.message)).toEqual(["source line"]);
    expect(logs.since("sink", "t/n/a", 1)).toEqual([]);
  });

  it("keeps a bounded number of lines per connector and of connectors", () => {
    const logs = new ConnectorLogs(3, 2);
    for (let i = 0; i < 5; i += 1) logs.add(line({ kind: "sink", fqfn: "t/n/a", msg: `m${i}`, level: 50 }));
    expect(logs.since("sink", "t/n/a", 0).map((entry) => [entry.message, entry.level])).toEqual([
      ["m2", "error"],
      ["m3", "error"],
      ["m4", "error"],
    ]);
    logs.add(line({ kind: "sink", fqfn: "t/n/b", msg: "b" }));
    logs.add(line({ kind: "sink", fqfn: "t/n/c", msg: "c" }));
    expect(logs.since("sink", "t/n/a", 0)).toEqual([]);
    expect(logs.since("sink", "t/n/c", 0).map((entry) => entry.message)).toEqual(["c"]);
  });
});
