import { describe, expect, it } from "vitest";
import { ClusterLogFeed, type ClusterLogSources } from "./cluster-logs.ts";
import { ConnectorLogs } from "./logs.ts";

const FQFN = "public/default/s";
const line = (msg: string) => JSON.stringify({ level: 30, time: Date.now(), kind: "sink", fqfn: FQFN, msg });

/** Another worker's console API answering from its own ConnectorLogs, as api.ts does. */
function remoteWorker(): { logs: ConnectorLogs; sources: ClusterLogSources; restart(): void } {
  const remote = { logs: new ConnectorLogs() };
  return {
    get logs() {
      return remote.logs;
    },
    sources: {
      local: undefined,
      owners: () => [{ workerId: "w2", url: "http://w2" }],
      fetchJson: async (_owner, path) => {
        const after = Number(new URL(path, "http://w2").searchParams.get("after"));
        return { available: true, stream: remote.logs.stream, lines: remote.logs.since("sink", FQFN, after) };
      },
    },
    restart() {
      remote.logs = new ConnectorLogs();
    },
  };
}

describe("ClusterLogFeed", () => {
  it("follows another worker again from its first line after that worker restarted", async () => {
    const worker = remoteWorker();
    const feed = new ClusterLogFeed(worker.sources, "sink", FQFN);
    for (const message of ["a", "b", "c"]) worker.logs.add(line(message));
    expect((await feed.next()).map((entry) => entry.message)).toEqual(["a", "b", "c"]);
    worker.restart();
    for (const message of ["d", "e"]) worker.logs.add(line(message));
    const after = await feed.next();
    expect(after.map((entry) => entry.message)).toEqual(["d", "e"]);
    expect(after.map((entry) => entry.seq)).toEqual([4, 5]);
    worker.logs.add(line("f"));
    expect((await feed.next()).map((entry) => entry.message)).toEqual(["f"]);
  });
});
