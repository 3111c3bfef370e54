import { describe, expect, it } from "vitest";
import { integrityOf } from "../packages.ts";
import { InMemoryPulsar } from "./in-memory-pulsar.test-support.ts";
import { PackageSweeper } from "./package-sweeper.ts";
import { PackageTopic } from "./package-topic.ts";

const logger = { info() {}, warn() {}, error() {}, debug() {}, child: () => logger } as never;

describe("PackageSweeper", () => {
  it("removes unused packages only on the leader, once the worker knows what is in use", async () => {
    const bus = new InMemoryPulsar();
    const packages = new PackageTopic({ client: bus.client() as never, topic: "packages" });
    const orphan = Buffer.from("orphan");
    const named = Buffer.from("named");
    await packages.put(orphan);
    await packages.put(named);
    for (const message of bus.log("packages")) message.publishTime -= 11 * 60_000;
    let leader = false;
    let inUse: Set<string> | undefined;
    const sweeper = new PackageSweeper({ packages, inUse: () => inUse, isLeader: () => leader, logger });
    await sweeper.sweep();
    leader = true;
    await sweeper.sweep();
    await expect(packages.get(integrityOf(orphan))).resolves.toBeDefined();
    inUse = new Set([integrityOf(named)]);
    await sweeper.sweep();
    await expect(packages.get(integrityOf(orphan))).rejects.toThrow(/is not in the cluster's package topic/);
    await expect(packages.get(integrityOf(named))).resolves.toBeDefined();
  });
});
