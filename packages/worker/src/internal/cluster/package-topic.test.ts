import { describe, expect, it } from "vitest";
import { integrityOf } from "../packages.ts";
import { InMemoryPulsar } from "./in-memory-pulsar.test-support.ts";
import { PACKAGE_CHUNK_BYTES, PackageTopic } from "./package-topic.ts";

const GRACE_MS = 10 * 60_000;

describe("PackageTopic (in-memory stand-in for Pulsar)", () => {
  it("removes packages no stored connector names once older than the grace period, and old claims", async () => {
    const bus = new InMemoryPulsar();
    const topic = new PackageTopic({ client: bus.client() as never, topic: "packages" });
    const orphan = Buffer.alloc(PACKAGE_CHUNK_BYTES + 10, 1);
    const named = Buffer.alloc(10, 2);
    const uploading = Buffer.alloc(10, 3);
    await topic.put(orphan);
    await topic.put(named);
    await topic.claim(integrityOf(orphan));
    // Written 11 minutes ago: a worker died during its upload, or its request was refused.
    for (const message of bus.log("packages")) message.publishTime -= 11 * 60_000;
    await topic.put(uploading);
    const removed = await topic.removeUnused(new Set([integrityOf(named)]), GRACE_MS);
    expect(removed).toEqual([integrityOf(orphan)]);
    await expect(topic.get(integrityOf(orphan))).rejects.toThrow(/is not in the cluster's package topic/);
    expect(integrityOf(await topic.get(integrityOf(named)))).toBe(integrityOf(named));
    expect(integrityOf(await topic.get(integrityOf(uploading)))).toBe(integrityOf(uploading));
    const tombstones = bus.log("packages").filter((message) => message.data.length === 0);
    expect(tombstones.map((message) => message.key?.split("/")[0])).toEqual([
      expect.stringMatching(/^[0-9a-f]{128}$/),
      expect.stringMatching(/^[0-9a-f]{128}$/),
      "claim",
    ]);
    expect(await topic.removeUnused(new Set([integrityOf(named)]), GRACE_MS)).toEqual([]);
  });
});
