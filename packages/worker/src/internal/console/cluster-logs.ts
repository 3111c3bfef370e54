import type { ConnectorLogLine, ConnectorLogs } from "./logs.ts";

/** Another worker of the cluster that runs instances of a connector. */
export interface LogOwner {
  workerId: string;
  /** Base URL of its admin API (and console). */
  url: string;
}

/** What a {@link ClusterLogFeed} reads: this worker's lines, and the other workers' through their console API. */
export interface ClusterLogSources {
  local: ConnectorLogs | undefined;
  /** The other workers that run instances of the connector now. */
  owners(): LogOwner[];
  /** GETs a console API path on another worker with the stream's credentials; answers the parsed JSON. */
  fetchJson(owner: LogOwner, path: string): Promise<unknown>;
}

/**
 * One event stream's view of a connector's log lines across the cluster: this worker's lines and those of every
 * other worker that runs one of its instances (each kept by its own worker). Each worker numbers its lines on its
 * own, so the stream numbers the lines it sends again, in one increasing sequence, and follows each worker with its
 * own cursor. A worker that does not answer is asked again at the next push.
 */
export class ClusterLogFeed {
  private readonly sources: ClusterLogSources;
  private readonly kind: "sink" | "source";
  private readonly fqfn: string;
  private localAfter = 0;
  /** Per other worker: the numbering its lines came in (it changes when that worker restarts), and the last line. */
  private readonly remoteAfter = new Map<string, { stream: string | undefined; after: number }>();
  private seq = 0;

  constructor(sources: ClusterLogSources, kind: "sink" | "source", fqfn: string) {
    this.sources = sources;
    this.kind = kind;
    this.fqfn = fqfn;
  }

  /** The lines that arrived since the last call, oldest first, numbered for this stream. */
  async next(): Promise<ConnectorLogLine[]> {
    const local = this.sources.local?.since(this.kind, this.fqfn, this.localAfter) ?? [];
    this.localAfter = local.at(-1)?.seq ?? this.localAfter;
    const remote = await Promise.all(this.sources.owners().map((owner) => this.fromOwner(owner)));
    return [...local, ...remote.flat()]
      .sort((a, b) => a.time - b.time)
      .map((line) => {
        this.seq += 1;
        return { ...line, seq: this.seq };
      });
  }

  private async fromOwner(owner: LogOwner, restarted = false): Promise<ConnectorLogLine[]> {
    const cursor = this.remoteAfter.get(owner.workerId);
    const after = restarted ? 0 : (cursor?.after ?? 0);
    const [tenant, namespace, name] = this.fqfn.split("/") as [string, string, string];
    const path = `/console/api/v1/logs/${this.kind}/${[tenant, namespace, name].map(encodeURIComponent).join("/")}?after=${after}`;
    let answer: { stream?: unknown; lines?: ConnectorLogLine[] };
    try {
      answer = (await this.sources.fetchJson(owner, path)) as { stream?: unknown; lines?: ConnectorLogLine[] };
    } catch {
      return [];
    }
    const stream = typeof answer.stream === "string" ? answer.stream : undefined;
    // The worker restarted and numbers from 1 again: its lines so far were filtered by the old cursor.
    if (!restarted && cursor !== undefined && cursor.stream !== stream && after > 0) return this.fromOwner(owner, true);
    const lines = Array.isArray(answer.lines) ? answer.lines : [];
    const last = lines.at(-1)?.seq;
    this.remoteAfter.set(owner.workerId, { stream, after: typeof last === "number" ? last : after });
    return lines.map((line) => ({ ...line, fields: { ...line.fields, workerId: owner.workerId } }));
  }
}
