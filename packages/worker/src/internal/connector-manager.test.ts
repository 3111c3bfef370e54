import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Logger } from "@pulsar-connect/core";
import {
  ConnectorCatalog,
  type ConnectorInstance,
  InstanceStats,
  type SinkInstanceOptions,
  type SinkInstanceStatusData,
  type SourceInstanceOptions,
} from "@pulsar-connect/runtime";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { fixtureHost } from "../../test/fixtures/host.ts";
import { ConnectorManager, type ConnectorManagerSettings } from "./connector-manager.ts";
import { ConnectorPackages } from "./packages.ts";
import { SecretScrubber } from "./redact.ts";
import type { InstanceRef, Scheduler } from "./scheduler.ts";
import { StandaloneScheduler } from "./scheduler.ts";
import { FileStore } from "./store.ts";

// Instances are stand-ins (no broker): these tests check which instances the manager runs where the scheduler
// places them, the seam cluster mode builds on. A real broker runs the same manager in test/*.integration.test.ts.
class StandInInstance implements ConnectorInstance {
  readonly kind: "sink" | "source";
  readonly instanceId: number;
  readonly stats: InstanceStats = new InstanceStats();
  readonly done: Promise<void>;
  stopped = false;
  private finish!: () => void;

  constructor(options: SinkInstanceOptions | SourceInstanceOptions) {
    this.kind = options.kind;
    this.instanceId = options.instanceId;
    this.done = new Promise<void>((resolve) => {
      this.finish = resolve;
    });
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {
    this.stopped = true;
    this.finish();
  }

  status(): SinkInstanceStatusData {
    return {
      running: !this.stopped,
      error: "",
      numRestarts: 0,
      numReadFromPulsar: 0,
      numSystemExceptions: 0,
      latestSystemExceptions: [],
      numSinkExceptions: 0,
      latestSinkExceptions: [],
      numWrittenToSink: 0,
      lastReceivedTime: 0,
      workerId: "",
      stalled: false,
      state: "",
    };
  }
}

/** Places the instance ids in `here` on this worker, the others elsewhere; `move` changes that and notifies. */
class MovableScheduler implements Scheduler {
  here: Set<number>;
  private readonly listeners = new Set<() => void>();

  constructor(here: number[]) {
    this.here = new Set(here);
  }

  runsHere(instance: InstanceRef): boolean {
    return this.here.has(instance.instanceId);
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  move(here: number[]): void {
    this.here = new Set(here);
    for (const listener of this.listeners) listener();
  }
}

const silent: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silent,
};

let dataDir: string;
let store: FileStore;
let created: StandInInstance[];
let manager: ConnectorManager | undefined;
const PATH = { tenant: "public", namespace: "default", name: "placed" };

async function newManager(
  scheduler: Scheduler,
  cluster: Pick<ConnectorManagerSettings, "stoppedEverywhere"> = {},
  catalog?: ConnectorCatalog,
): Promise<ConnectorManager> {
  catalog ??= await ConnectorCatalog.discover({ hostDirs: [fixtureHost()] });
  store = new FileStore(dataDir);
  await store.init();
  manager = new ConnectorManager({
    options: {
      createPulsarClient: () => ({}) as never,
      createInstance: (options) => {
        const instance = new StandInInstance(options);
        created.push(instance);
        return instance;
      },
      backoff: { initialMs: 50, maxMs: 200, stableMs: 60_000 },
    },
    logger: silent,
    scrubber: new SecretScrubber(),
    store,
    packages: new ConnectorPackages({ root: join(dataDir, "packages"), maxBytes: 1024 * 1024 }),
    scheduler,
    catalog,
    pulsarAuthentication: undefined,
    ...cluster,
  });
  await manager.restore();
  return manager;
}

async function createSink(parallelism: number): Promise<void> {
  await manager?.create("sink", PATH, {
    config: { archive: "builtin://test-file", inputs: ["in"], parallelism, configs: { path: "/tmp/never-written" } },
  });
}

/** Instance ids that run now (started and not stopped). */
function running(): number[] {
  return created
    .filter((instance) => !instance.stopped)
    .map((instance) => instance.instanceId)
    .sort();
}

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((done) => setTimeout(done, 20));
  }
}

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), "pulsar-connect-manager-"));
  created = [];
});

afterEach(async () => {
  await manager?.stopInstances();
  manager = undefined;
  await store.release();
  rmSync(dataDir, { recursive: true, force: true });
});

/** The fixture host plus a package whose manifest announces a sink but whose module exports no definition. */
function hostWithPlainSink(): string {
  const host = fixtureHost();
  const plain = join(host, "node_modules", "plain-sink");
  mkdirSync(plain);
  const manifest = { manifestVersion: 1, kind: "sink", name: "plain", description: "not a definition" };
  const exports = { ".": "./index.js", "./package.json": "./package.json" };
  writeFileSync(
    join(plain, "package.json"),
    JSON.stringify({ name: "plain-sink", version: "1.0.0", type: "module", exports, pulsarConnector: manifest }),
  );
  writeFileSync(join(plain, "index.js"), "export default { name: 'plain' };\n");
  const hostJson = JSON.parse(readFileSync(join(host, "package.json"), "utf8"));
  hostJson.dependencies["plain-sink"] = "*";
  writeFileSync(join(host, "package.json"), JSON.stringify(hostJson));
  return host;
}

describe("connector modules load when a connector names them", () => {
  it("restore imports none; create imports the one it names, and refuses one whose module is not a definition", async () => {
    const catalog = await ConnectorCatalog.discover({ hostDirs: [hostWithPlainSink()], lazy: true });
    await newManager(new StandaloneScheduler(), {}, catalog);
    expect(manager?.builtins("sink").map((entry) => (entry as { name: string }).name)).toContain("plain");
    expect(catalog.isLoaded("sink", "test-file")).toBe(false);

    await createSink(1);
    expect(catalog.isLoaded("sink", "test-file")).toBe(true);
    expect(created).toHaveLength(1);
    expect(catalog.isLoaded("source", "test-counter")).toBe(false);

    const refused = manager?.create(
      "sink",
      { ...PATH, name: "plain" },
      {
        config: { archive: "builtin://plain", inputs: ["in"], configs: {} },
      },
    );
    await expect(refused).rejects.toMatchObject({
      code: "INVALID_CONFIG",
      message: expect.stringMatching(/archive: plain-sink .*not a sink definition/),
    });
  });

  it("a restarted manager imports the modules of the stored connectors before it runs them", async () => {
    const host = hostWithPlainSink();
    await newManager(new StandaloneScheduler(), {}, await ConnectorCatalog.discover({ hostDirs: [host], lazy: true }));
    await createSink(2);
    await manager?.stopInstances();
    await store.release();
    created = [];
    const catalog = await ConnectorCatalog.discover({ hostDirs: [host], lazy: true });
    await newManager(new StandaloneScheduler(), {}, catalog);
    expect(catalog.isLoaded("sink", "test-file")).toBe(true);
    expect(created.map((instance) => instance.instanceId).sort()).toEqual([0, 1]);
  });

  it("a connector created by another worker (cluster mode) has its module imported before it runs here", async () => {
    const host = hostWithPlainSink();
    await newManager(new StandaloneScheduler(), {}, await ConnectorCatalog.discover({ hostDirs: [host], lazy: true }));
    await createSink(1);
    const [entry] = (await store.loadAll()).entries;
    await manager?.stopInstances();
    await store.release();
    rmSync(dataDir, { recursive: true, force: true });
    dataDir = mkdtempSync(join(tmpdir(), "pulsar-connect-manager-"));
    created = [];
    const catalog = await ConnectorCatalog.discover({ hostDirs: [host], lazy: true });
    await newManager(new StandaloneScheduler(), {}, catalog);
    expect(catalog.isLoaded("sink", "test-file")).toBe(false);

    await manager?.applyStoredChange({ key: "sink/public/default/placed", entry: entry as NonNullable<typeof entry> });
    expect(catalog.isLoaded("sink", "test-file")).toBe(true);
    await expect.poll(() => created.length).toBe(1);
  });
});

describe("the connector manager and its scheduler", () => {
  it("in a cluster, a delete the store refuses leaves the connector running as before", async () => {
    await newManager(new StandaloneScheduler(), { stoppedEverywhere: async () => undefined });
    await manager?.create("sink", PATH, {
      config: {
        archive: "builtin://test-file",
        inputs: ["in"],
        parallelism: 2,
        cleanupSubscription: false,
        configs: { path: "/tmp/never-written" },
      },
    });
    await manager?.control("sink", PATH, "stop", "1");
    await until(() => running().join() === "0");
    store.remove = async () => {
      throw new Error("the broker is gone");
    };
    await expect(manager?.remove("sink", PATH)).rejects.toThrow(/the broker is gone/);
    await until(() => running().join() === "0");
    expect((await store.loadAll()).entries[0]?.stoppedInstances).toEqual([1]);
  });

  it("standalone runs every instance", async () => {
    await newManager(new StandaloneScheduler());
    await createSink(3);
    await until(() => running().length === 3);
    expect(running()).toEqual([0, 1, 2]);
  });

  it("runs only the instances placed here, and still reports every instance", async () => {
    await newManager(new MovableScheduler([0, 2]));
    await createSink(3);
    await until(() => running().length === 2);
    expect(running()).toEqual([0, 2]);
    const status = manager?.status("sink", PATH, undefined) as { numInstances: number; numRunning: number };
    expect(status.numInstances).toBe(3);
    expect(status.numRunning).toBe(2);
  });

  it("a placement change stops what moved away and starts what arrived, keeping what the user stopped stopped", async () => {
    const scheduler = new MovableScheduler([0]);
    await newManager(scheduler);
    await createSink(3);
    await until(() => running().length === 1);
    await manager?.control("sink", PATH, "stop", "2");
    scheduler.move([1, 2]);
    // Instance 0 moved away, 1 arrived; 2 arrived but its desired state is stopped.
    await until(() => running().join() === "1");
    await manager?.control("sink", PATH, "start", "2");
    await until(() => running().join() === "1,2");
    // Started or restarted elsewhere: stored as running, but not run here.
    await manager?.control("sink", PATH, "restart", "0");
    await manager?.control("sink", PATH, "start", "0");
    expect(running()).toEqual([1, 2]);
    const stored = await store.loadAll();
    expect(stored.entries[0]?.stoppedInstances).toEqual([]);
  });

  it("restores stored connectors only where the scheduler places them", async () => {
    await newManager(new StandaloneScheduler());
    await createSink(2);
    await until(() => running().length === 2);
    await manager?.stopInstances();
    await store.release();
    created = [];
    await newManager(new MovableScheduler([1]));
    await until(() => running().length === 1);
    expect(running()).toEqual([1]);
  });
});
