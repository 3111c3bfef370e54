import { rssMb } from "./proc.ts";
import type { ServiceStatus, UpResult } from "./services.ts";

export const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export function describeUp(result: UpResult): string {
  const pid = result.pid ? `pid ${result.pid}` : "not ours";
  const rss = result.pid ? rssMb(result.pid) : undefined;
  const what = { started: "started", reused: "already running, reused", external: "served by another process, reused" }[
    result.action
  ];
  const endpoint = result.endpoint as { host: string; port: number };
  return `${result.name.padEnd(10)} ${what} in ${seconds(result.ms)} (${pid}, ${endpoint.host}:${endpoint.port}${rss ? `, RSS ${rss} MB` : ""})`;
}

export function formatUptime(ms: number | undefined): string {
  if (ms === undefined) return "-";
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

export function statusTable(rows: readonly ServiceStatus[]): string {
  const header = ["NAME", "STATE", "PID", "PORTS", "UPTIME", "RSS MB", "PEAK MB", "LAST START"];
  const lines = rows.map((row) => [
    row.name,
    row.condition,
    row.pid ? String(row.pid) : "-",
    row.ports.join(","),
    formatUptime(row.uptimeMs),
    row.rssMb !== undefined ? String(row.rssMb) : "-",
    row.peakRssMb !== undefined ? String(row.peakRssMb) : "-",
    row.startMs !== undefined ? seconds(row.startMs) : "-",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((line) => line[i]?.length ?? 0)));
  return [header, ...lines]
    .map((line) =>
      line
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}
