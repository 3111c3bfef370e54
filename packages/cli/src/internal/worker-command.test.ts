import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "@pulsar-connect/worker";
import { describe, expect, it } from "vitest";
import { workerOptions } from "./worker-command.ts";

describe("worker settings", () => {
  it("joins a cluster with --cluster, keeping the clusterMode settings of the settings file", () => {
    expect(workerOptions({}).clusterMode).toBeUndefined();
    expect(workerOptions({ cluster: "prod" })).toMatchObject({ cluster: "prod", clusterMode: {} });
    const dir = mkdtempSync(join(tmpdir(), "pulsar-connect-settings-"));
    try {
      writeFileSync(
        join(dir, "worker.yaml"),
        "cluster: staging\nclusterMode:\n  namespace: ops/connect\n  leaseMs: 4000\n",
      );
      expect(workerOptions({ config: join(dir, "worker.yaml") })).toMatchObject({
        cluster: "staging",
        clusterMode: { namespace: "ops/connect", leaseMs: 4000 },
      });
      expect(workerOptions({ config: join(dir, "worker.yaml"), cluster: "prod" })).toMatchObject({
        cluster: "prod",
        clusterMode: { namespace: "ops/connect" },
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("takes the drain time from --stop-timeout (seconds) or stopTimeoutMs in the settings file", () => {
    expect(workerOptions({ stopTimeout: "12.5" }).stopTimeoutMs).toBe(12_500);
    expect(() => workerOptions({ stopTimeout: "0" })).toThrow("--stop-timeout must be a positive number of seconds");
    const dir = mkdtempSync(join(tmpdir(), "pulsar-connect-settings-"));
    try {
      writeFileSync(join(dir, "worker.yaml"), "stopTimeoutMs: 20000\n");
      expect(workerOptions({ config: join(dir, "worker.yaml") }).stopTimeoutMs).toBe(20_000);
      expect(workerOptions({ config: join(dir, "worker.yaml"), stopTimeout: "5" }).stopTimeoutMs).toBe(5_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("takes the runtime of instances from --runtime or runtime in the settings file, refusing other names", () => {
    expect(workerOptions({ runtime: "process" }).runtime).toBe("process");
    expect(() => workerOptions({ runtime: "thread" })).toThrow(
      "--runtime must be in-process or process (got 'thread')",
    );
    const dir = mkdtempSync(join(tmpdir(), "pulsar-connect-settings-"));
    try {
      writeFileSync(join(dir, "worker.yaml"), "runtime: process\nheartbeatTimeoutMs: 5000\n");
      expect(workerOptions({ config: join(dir, "worker.yaml") })).toMatchObject({
        runtime: "process",
        heartbeatTimeoutMs: 5000,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a worker refuses an unknown runtime and a heartbeat timeout below a second, naming them", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "pulsar-connect-settings-"));
    try {
      await expect(Worker.start({ port: 0, dataDir, hostDirs: [], runtime: "thread" as never })).rejects.toThrow(
        "runtime must be in-process or process (got thread)",
      );
      await expect(Worker.start({ port: 0, dataDir, hostDirs: [], heartbeatTimeoutMs: 10 })).rejects.toThrow(
        "heartbeatTimeoutMs must be a whole number of milliseconds, at least 1000 (got 10)",
      );
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("a worker refuses a stopTimeoutMs that is not a positive whole number, naming it", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "pulsar-connect-settings-"));
    try {
      await expect(Worker.start({ port: 0, dataDir, hostDirs: [], stopTimeoutMs: "soon" as never })).rejects.toThrow(
        "stopTimeoutMs must be a positive whole number of milliseconds (got soon)",
      );
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
