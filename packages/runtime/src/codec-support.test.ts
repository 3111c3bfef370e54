// A source whose producerConfig names a codec this Node.js lacks must not start: the zstd functions of node:zlib are
// taken away here (Node.js before 22.15 / 23.8 has none), so no producer or connector is ever opened.
import { defineSource, z } from "@pulsar-connect/core";
import { describe, expect, it, vi } from "vitest";
import { createInstance, resolveSourceConfig } from "./index.ts";

vi.mock("node:zlib", async (importOriginal) => {
  const actual = (await importOriginal()) as Record<string, unknown> & { default: Record<string, unknown> };
  const { zstdCompressSync: _c, zstdDecompressSync: _d, ...rest } = actual.default;
  return { ...actual, zstdCompressSync: undefined, zstdDecompressSync: undefined, default: rest };
});

describe("a codec this Node.js lacks", () => {
  it("refuses to start a source whose producerConfig.compressionType is ZSTD, naming the Node.js version", async () => {
    let opened = 0;
    let producers = 0;
    const definition = defineSource({
      name: "never-opened",
      description: "A source that must never be opened",
      config: z.object({}),
      open: async () => {
        opened++;
        return { read: async () => null, close: async () => {} };
      },
    });
    const resolved = resolveSourceConfig({
      name: "zstd-source",
      archive: "builtin://never-opened",
      topicName: "persistent://public/default/zstd-out",
      producerConfig: { compressionType: "ZSTD" },
    });
    if (!resolved.ok) throw new Error(JSON.stringify(resolved.issues));
    const client = {
      subscribe: () => Promise.reject(new Error("not used")),
      createProducer: () => {
        producers++;
        return Promise.reject(new Error("not used"));
      },
    };
    const instance = createInstance({
      kind: "source",
      config: resolved.value,
      definition,
      instanceId: 0,
      pulsar: { client: client as never, adminUrl: "http://127.0.0.1:1" },
    });
    await expect(instance.start()).rejects.toThrow(process.version);
    await expect(instance.done).rejects.toThrow(/producerConfig\.compressionType ZSTD/);
    expect(instance.status()).toMatchObject({ running: false });
    expect(JSON.stringify(instance.status())).toContain(process.version);
    expect({ opened, producers }).toEqual({ opened: 0, producers: 0 });
  });
});
