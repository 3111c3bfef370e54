import { randomUUID } from "node:crypto";

/** One log line of a connector, as the console shows it. */
export interface ConnectorLogLine {
  /** Increasing number across the worker: the console asks for lines after the last one it has. */
  seq: number;
  time: number;
  level: string;
  instanceId: number | null;
  message: string;
  /** The line's other fields (error text, topic, ...), without the ones above. */
  fields: Record<string, unknown>;
}

const LEVELS: Record<number, string> = { 10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal" };
const COMMON_FIELDS = new Set(["level", "time", "msg", "pid", "hostname", "service", "kind", "fqfn", "instanceId"]);

/**
 * The latest log lines of each connector, taken from the worker's own JSON log lines (already free of secret values)
 * by their `kind` and `fqfn` fields. Kept in memory only, a bounded number per connector.
 */
export class ConnectorLogs {
  private readonly perConnector: number;
  private readonly maxConnectors: number;
  private readonly lines = new Map<string, ConnectorLogLine[]>();
  private seq = 0;
  /** Names this numbering of lines: a restarted worker numbers from 1 again under a new one. */
  readonly stream: string = randomUUID();

  constructor(perConnector = 500, maxConnectors = 1000) {
    this.perConnector = perConnector;
    this.maxConnectors = maxConnectors;
  }

  /** Takes one JSON log line; lines of no connector are ignored. */
  add(line: string): void {
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    if (!parsed || typeof parsed !== "object") return;
    const { kind, fqfn } = parsed;
    if ((kind !== "sink" && kind !== "source") || typeof fqfn !== "string") return;
    const key = `${kind}:${fqfn}`;
    let list = this.lines.get(key);
    if (!list) {
      // The oldest connector's lines make room (a deleted connector stops logging).
      if (this.lines.size >= this.maxConnectors) this.lines.delete(this.lines.keys().next().value as string);
      list = [];
      this.lines.set(key, list);
    }
    this.seq += 1;
    list.push({
      seq: this.seq,
      time: typeof parsed.time === "number" ? parsed.time : Date.now(),
      level: LEVELS[parsed.level as number] ?? String(parsed.level ?? "info"),
      instanceId: typeof parsed.instanceId === "number" ? parsed.instanceId : null,
      message: typeof parsed.msg === "string" ? parsed.msg : "",
      fields: Object.fromEntries(Object.entries(parsed).filter(([field]) => !COMMON_FIELDS.has(field))),
    });
    if (list.length > this.perConnector) list.splice(0, list.length - this.perConnector);
  }

  /** Lines of a connector after `after` (a `seq`), oldest first, at most `limit`. */
  since(kind: "sink" | "source", fqfn: string, after: number, limit = 200): ConnectorLogLine[] {
    const list = this.lines.get(`${kind}:${fqfn}`) ?? [];
    const newer = list.filter((line) => line.seq > after);
    return newer.slice(-limit);
  }
}
