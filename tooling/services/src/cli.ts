import { parseServiceNames, SERVICE_NAMES } from "./internal/config.ts";
import { ServicesError } from "./internal/errors.ts";
import { rssMb } from "./internal/proc.ts";
import { type ServiceStatus, serviceStatus, stopServices, type UpResult, upServices } from "./internal/services.ts";

const USAGE = `usage: pnpm services <command> [names...]
  up [names...]     start (or reuse) servers; no names = all
  down [names...]   stop servers this tooling started; no names = all
  status            table of every server
names: ${SERVICE_NAMES.join(", ")}`;

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function describeUp(result: UpResult): string {
  const pid = result.pid ? `pid ${result.pid}` : "not ours";
  const rss = result.pid ? rssMb(result.pid) : undefined;
  const what = { started: "started", reused: "already running, reused", external: "served by another process, reused" }[
    result.action
  ];
  const endpoint = result.endpoint as { host: string; port: number };
  return `${result.name.padEnd(10)} ${what} in ${seconds(result.ms)} (${pid}, ${endpoint.host}:${endpoint.port}${rss ? `, RSS ${rss} MB` : ""})`;
}

function formatUptime(ms: number | undefined): string {
  if (ms === undefined) return "-";
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

export function statusTable(rows: readonly ServiceStatus[]): string {
  const header = ["NAME", "STATE", "PID", "PORTS", "UPTIME", "RSS MB", "LAST START"];
  const lines = rows.map((row) => [
    row.name,
    row.condition,
    row.pid ? String(row.pid) : "-",
    row.ports.join(","),
    formatUptime(row.uptimeMs),
    row.rssMb !== undefined ? String(row.rssMb) : "-",
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

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "up": {
      const names = rest.length > 0 ? parseServiceNames(rest) : [...SERVICE_NAMES];
      const begun = Date.now();
      await upServices(names, { onResult: (result) => console.log(describeUp(result)) });
      console.log(`up: ${names.join(", ")} ready in ${seconds(Date.now() - begun)}`);
      return 0;
    }
    case "down": {
      const names = rest.length > 0 ? parseServiceNames(rest) : [...SERVICE_NAMES];
      for (const result of await stopServices(names)) {
        const text =
          result.outcome === "not-ours"
            ? "nothing of ours running (servers started elsewhere are left alone)"
            : `${result.outcome === "killed" ? "killed (SIGKILL after 20 s)" : "stopped"} pid ${result.pid} in ${seconds(result.ms)}`;
        console.log(`${result.name.padEnd(10)} ${text}`);
      }
      return 0;
    }
    case "status": {
      const names = rest.length > 0 ? parseServiceNames(rest) : [...SERVICE_NAMES];
      console.log(statusTable(await serviceStatus(names)));
      return 0;
    }
    default:
      console.error(USAGE);
      return command === undefined || command === "help" || command === "--help" ? 0 : 2;
  }
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error instanceof ServicesError ? `services: ${error.message}` : error);
      process.exit(1);
    },
  );
}
