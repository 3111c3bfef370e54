import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Logger } from "@pulsar-connect/core";
import { ConnectorCatalog, type ConnectorInstance, InstanceStats } from "@pulsar-connect/runtime";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { npmPack, writeArchiveSink } from "../../test/fixtures/archive-sink.ts";
import { fixtureHost } from "../../test/fixtures/host.ts";
import { InMemoryPulsar } from "./cluster/in-memory-pulsar.test-support.ts";
import { PackageTopic } from "./cluster/package-topic.ts";
import { ConnectorManager } from "./connector-manager.ts";
import { ConnectorPackages, integrityOf } from "./packages.ts";
import { SecretScrubber } from "./redact.ts";
import { StandaloneScheduler } from "./scheduler.ts";
import { FileStore } from "./store.ts";

// Which package a cluster keeps while connectors come and go: the manager with an in-memory package topic and
// stand-in instances (no broker). test/cluster-ops.integration.test.ts runs packages on three real workers.
const silent: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silent,
};

function standIn(): ConnectorInstance {
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  return {
    kind: "sink",
    instanceId: 0,
    stats: new InstanceStats(),
    done,
    async start() {},
    async stop() {
      finish();
    },
    status: () => ({ running: true }) as never,
  } as unknown as ConnectorInstance;
}

let fixtureDir: string;
let tarball: Buffer;
let integrity: string;
let dataDir: string;
let stores: FileStore[];
let managers: ConnectorManager[];

beforeAll(() => {
  fixtureDir = mkdtempSync(join(tmpdir(), "pulsar-connect-manager-packages-"));
  const file = npmPack(writeArchiveSink(join(fixtureDir, "sink"), { version: "1.0.0", label: "p" }), fixtureDir);
  tarball = readFileSync(file);
  integrity = integrityOf(tarball);
});

afterAll(() => rmSync(fixtureDir, { recursive: true, force: true }));

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), "pulsar-connect-manager-packages-data-"));
  stores = [];
  managers = [];
});

afterEach(async () => {
  for (const manager of managers) await manager.stopInstances();
  for (const store of stores) await store.release();
  rmSync(dataDir, { recursive: true, force: true });
});

async function newManager(
  shared: PackageTopic,
): Promise<{ manager: ConnectorManager; packages: ConnectorPackages; store: FileStore }> {
  const store = new FileStore(join(dataDir, "store"));
  await store.init();
  stores.push(store);
  const packages = new ConnectorPackages({ root: join(dataDir, "packages"), maxBytes: 4 * 1024 * 1024 });
  const manager = new ConnectorManager({
    options: { createPulsarClient: () => ({}) as never, createInstance: () => standIn() },
    logger: silent,
    scrubber: new SecretScrubber(),
    store,
    packages,
    scheduler: new StandaloneScheduler(),
    catalog: await ConnectorCatalog.discover({ hostDirs: [fixtureHost()] }),
    pulsarAuthentication: undefined,
    sharedPackages: shared,
    stoppedEverywhere: async () => undefined,
  });
  managers.push(manager);
  await manager.restore();
  return { manager, packages, store };
}

const path = (name: string) => ({ tenant: "public", namespace: "default", name });
const submission = () => ({
  config: { inputs: ["in"], cleanupSubscription: false, configs: { path: join(dataDir, "never-written") } },
  packageData: tarball,
});

describe("connector packages in a cluster", () => {
  it("a delete during another connector's upload of the same package keeps the package", async () => {
    const shared = new PackageTopic({ client: new InMemoryPulsar().client() as never, topic: "packages" });
    const { manager, packages } = await newManager(shared);
    await manager.create("sink", path("a"), submission());
    // B's chunks are written, then B waits; meanwhile A is deleted.
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let putDone: () => void = () => undefined;
    const written = new Promise<void>((resolve) => {
      putDone = resolve;
    });
    const put = shared.put.bind(shared);
    shared.put = async (data) => {
      const stored = await put(data);
      putDone();
      await held;
      return stored;
    };
    const createB = manager.create("sink", path("b"), submission());
    await written;
    await manager.remove("sink", path("a"));
    release();
    await createB;
    expect(packages.has(integrity)).toBe(true);
    expect(integrityOf(await shared.get(integrity))).toBe(integrity);
  }, 60_000);

  it("a connector whose package did not load keeps the package when another one using it is deleted", async () => {
    const shared = new PackageTopic({ client: new InMemoryPulsar().client() as never, topic: "packages" });
    const first = await newManager(shared);
    await first.manager.create("sink", path("x"), submission());
    await first.manager.create("sink", path("y"), submission());
    await first.manager.stopInstances();
    await first.store.release();
    stores.splice(stores.indexOf(first.store), 1);
    rmSync(join(dataDir, "packages"), { recursive: true, force: true });
    // Restarted: the first read of the package topic fails, so the first stored connector's package does not load.
    const get = shared.get.bind(shared);
    let reads = 0;
    shared.get = async (wanted) => {
      reads += 1;
      if (reads === 1) throw new Error("the broker is gone for a moment");
      return await get(wanted);
    };
    const second = await newManager(shared);
    const entries = (await second.store.loadAll()).entries.map((entry) => entry.config.name);
    expect(entries).toEqual(["x", "y"]);
    await second.manager.remove("sink", path("y"));
    expect(integrityOf(await get(integrity)), "x still names the package").toBe(integrity);
    expect(second.packages.has(integrity)).toBe(true);
  }, 60_000);

  it("a file:// package is taken from the package topic only when a cluster worker kept it for this request", async () => {
    const shared = new PackageTopic({ client: new InMemoryPulsar().client() as never, topic: "packages" });
    const { manager } = await newManager(shared);
    // Already in the topic (another connector's), but the header naming it comes from the client itself.
    await shared.put(tarball);
    const forged = (sharedPackage: string) => ({
      config: { ...submission().config, archive: "file:///nowhere/p.tgz" },
      sharedPackage,
    });
    await expect(manager.create("sink", path("forged"), forged(integrity))).rejects.toThrow(
      /not kept by a cluster worker/,
    );
    await expect(manager.create("sink", path("guessed"), forged(`${integrity} made-up`))).rejects.toThrow(
      /not kept by a cluster worker/,
    );
    const claim = await shared.claim(integrity);
    await manager.create("sink", path("kept"), forged(`${integrity} ${claim}`));
    expect(manager.names("sink", "public", "default")).toEqual(["kept"]);
  }, 60_000);

  it("a worker told that another one deleted the last connector using a package removes its folder, not the chunks", async () => {
    const shared = new PackageTopic({ client: new InMemoryPulsar().client() as never, topic: "packages" });
    const { manager, packages } = await newManager(shared);
    await manager.create("sink", path("x"), submission());
    expect(packages.has(integrity)).toBe(true);
    await manager.applyStoredChange({ key: "x", removed: { kind: "sink", ...path("x") } });
    expect(manager.names("sink", "public", "default")).toEqual([]);
    expect(packages.has(integrity), "the local folder is removed").toBe(false);
    // The worker that stores connectors tombstones them; one that only follows may not have seen a newer use yet.
    expect(integrityOf(await shared.get(integrity))).toBe(integrity);
  }, 60_000);
});
