import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Worker } from "../src/index.ts";

// The Grafana dashboard and the alert examples in deploy/grafana query only metrics the worker serves.
const deploy = join(import.meta.dirname, "..", "..", "..", "deploy", "grafana");
let worker: Worker;
let dataDir: string;
let served: Set<string>;

/** Metric names a PromQL expression refers to (the worker's families all start with these prefixes). */
function metricsOf(expr: string): string[] {
  return [...expr.matchAll(/\b((?:pulsar|process|nodejs)_[a-z0-9_]+)\b/g)].map((match) => match[1] as string);
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "pulsar-connect-grafana-"));
  worker = await Worker.start({ port: 0, dataDir, hostDirs: [], logDestination: { write: () => {} } });
  const text = await (await fetch(`${worker.url}/metrics`)).text();
  served = new Set(
    text
      .split("\n")
      .map((line) => /^# TYPE (\S+) /.exec(line)?.[1])
      .filter((name): name is string => name !== undefined),
  );
}, 60_000);

afterAll(async () => {
  await worker?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe("deploy/grafana", () => {
  it("the worker serves the metric families the check relies on", () => {
    expect(served).toContain("pulsar_sink_received_total");
    expect(served).toContain("process_resident_memory_bytes");
  });

  it("every metric of the dashboard's panels and variables is in the worker's /metrics output", () => {
    const dashboard = JSON.parse(readFileSync(join(deploy, "pulsar-connect-worker.json"), "utf8")) as {
      panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
      templating: { list: Array<{ name: string; definition?: string }> };
    };
    const used = [
      ...dashboard.panels.flatMap((panel) => panel.targets.map((target) => [panel.title, target.expr] as const)),
      ...dashboard.templating.list.map((variable) => [`$${variable.name}`, variable.definition ?? ""] as const),
    ];
    const names = used.flatMap(([where, expr]) => metricsOf(expr).map((name) => [where, name] as const));
    expect(names.length).toBeGreaterThan(10);
    // A regex selector names families as pulsar_(sink|source)_...: expand it.
    const regexSelectors = used.flatMap(([, expr]) => [
      ...expr.matchAll(/__name__=~"pulsar_\(sink\|source\)_([a-z_]+)"/g),
    ]);
    for (const match of regexSelectors) {
      for (const kind of ["sink", "source"]) expect(served).toContain(`pulsar_${kind}_${match[1]}`);
    }
    const missing = names.filter(([, name]) => !served.has(name));
    expect(missing).toEqual([]);
  });

  it("every metric of the alert examples is in the worker's /metrics output", () => {
    const rules = readFileSync(join(deploy, "alerts.yaml"), "utf8");
    const exprs = [...rules.matchAll(/^\s*expr:\s*(.+)$/gm)].map((match) => match[1] as string);
    expect(exprs.length).toBeGreaterThan(3);
    const missing = exprs.flatMap(metricsOf).filter((name) => !served.has(name));
    expect(missing).toEqual([]);
  });
});
