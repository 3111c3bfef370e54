import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { loadConfig, type SourceInstance, type SourceRecord } from "@pulsar-connect/core";
import { createSourceContext, type TestContextOptions } from "@pulsar-connect/testkit";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import definition from "../src/index.ts";
import { dropFile, freshDirectory, jsonLines, removeDirectories, visibleFiles } from "./files.ts";

afterAll(removeDirectories);

const open: Array<{ source: SourceInstance; abort: AbortController }> = [];
afterEach(async () => {
  for (const { source, abort } of open.splice(0)) {
    abort.abort();
    await source.close();
  }
});

async function openSource(configs: Record<string, unknown>, options: TestContextOptions = {}) {
  const handle = createSourceContext(options);
  const source = await definition.open(
    loadConfig(definition.config, { pollingInterval: 100, ...configs }),
    handle.context,
  );
  open.push({ source, abort: handle.abort });
  return { source, handle };
}

/** Reads until `count` records came (or `waitMs` passed: give a short wait where nothing may come). */
async function readRecords(
  source: SourceInstance,
  signal: AbortSignal,
  count: number,
  waitMs = 20_000,
): Promise<SourceRecord[]> {
  const records: SourceRecord[] = [];
  const deadline = Date.now() + waitMs;
  while (records.length < count && Date.now() < deadline) {
    const batch = await source.read({ maxRecords: count - records.length, signal });
    if (batch === null) break;
    records.push(...batch);
  }
  return records;
}

const text = (record: SourceRecord) => Buffer.from(record.value as Uint8Array).toString("utf8");
const ackAll = async (records: SourceRecord[]) => {
  for (const record of records) await record.ack?.();
};

describe("file source on real directories", () => {
  it("emits one record per line (\\n, \\r\\n, \\r, empty lines) with upstream's key and properties", async () => {
    const dir = freshDirectory();
    const path = dropFile(dir, "a.txt", "one\r\ntwo\rthree\n\nfour");
    const { source, handle } = await openSource({ inputDirectory: dir });
    const records = await readRecords(source, handle.abort.signal, 5);
    expect(records.map(text)).toEqual(["one", "two", "three", "", "four"]);
    expect(records.map((r) => r.key)).toEqual(["a.txt_1", "a.txt_2", "a.txt_3", "a.txt_4", "a.txt_5"]);
    expect(records[0]?.properties).toMatchObject({ "file.name": "a.txt", "file.path": path });
    expect(Number(records[0]?.properties?.["file.modified.time"])).toBeGreaterThan(0);
  });

  it("removes a file only once every one of its records is acknowledged", async () => {
    const dir = freshDirectory();
    dropFile(dir, "b.jsonl", jsonLines([1, 2, 3]));
    const { source, handle } = await openSource({ inputDirectory: dir });
    const records = await readRecords(source, handle.abort.signal, 3);
    expect(records).toHaveLength(3);
    await ackAll(records.slice(0, 2));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(visibleFiles(dir)).toEqual(["b.jsonl"]);
    await records[2]?.ack?.();
    await expect.poll(() => visibleFiles(dir), { timeout: 5_000 }).toEqual([]);
  });

  it("renames a processed file with processedFileSuffix and does not read the renamed file", async () => {
    const dir = freshDirectory();
    dropFile(dir, "c.jsonl", jsonLines([1]));
    const { source, handle } = await openSource({ inputDirectory: dir, processedFileSuffix: ".done" });
    await ackAll(await readRecords(source, handle.abort.signal, 1));
    await expect.poll(() => visibleFiles(dir), { timeout: 5_000 }).toEqual(["c.jsonl.done"]);
    expect(await readRecords(source, handle.abort.signal, 1, 1_500).then((r) => r.length)).toBe(0);
  });

  it("reads a file again from the start when one of its records failed", async () => {
    const dir = freshDirectory();
    dropFile(dir, "d.jsonl", jsonLines([1, 2]));
    const { source, handle } = await openSource({ inputDirectory: dir });
    const first = await readRecords(source, handle.abort.signal, 2);
    await first[0]?.ack?.();
    await first[1]?.fail?.(new Error("not stored"));
    const again = await readRecords(source, handle.abort.signal, 2);
    expect(again.map(text)).toEqual(['{"id":1}', '{"id":2}']);
    await ackAll(again);
    await expect.poll(() => visibleFiles(dir), { timeout: 5_000 }).toEqual([]);
  });

  it("with keepFile leaves files in place and reads one again only once it changed", async () => {
    const dir = freshDirectory();
    const path = dropFile(dir, "e.txt", "v1\n");
    const { source, handle } = await openSource({ inputDirectory: dir, keepFile: true });
    await ackAll(await readRecords(source, handle.abort.signal, 1));
    expect(await readRecords(source, handle.abort.signal, 1, 1_500).then((r) => r.length)).toBe(0);
    expect(visibleFiles(dir)).toEqual(["e.txt"]);
    writeFileSync(path, "v1\nv2\n");
    expect((await readRecords(source, handle.abort.signal, 2)).map(text)).toEqual(["v1", "v2"]);
  });

  it("does not read a file again after a restart when all its lines were stored before the removal", async () => {
    const dir = freshDirectory();
    const path = dropFile(dir, "f.txt", "x\n");
    // As a process that died between the last receipt and the removal left it: the marker of this version.
    const handle = createSourceContext();
    const info = statSync(path);
    await handle.state.put(`file-source/done/${path}`, new TextEncoder().encode(`${info.size}:${info.mtimeMs}`));
    const source = await definition.open(
      loadConfig(definition.config, { inputDirectory: dir, pollingInterval: 100 }),
      handle.context,
    );
    open.push({ source, abort: handle.abort });
    expect(await readRecords(source, handle.abort.signal, 1, 1_500).then((r) => r.length)).toBe(0);
    expect(existsSync(path)).toBe(false);
    expect(await handle.state.get(`file-source/done/${path}`)).toBeUndefined();
  });

  it("reads gzip files as their lines", async () => {
    const dir = freshDirectory();
    dropFile(dir, "g.txt.gz", gzipSync("zipped 1\nzipped 2\n"));
    const { source, handle } = await openSource({ inputDirectory: dir });
    expect((await readRecords(source, handle.abort.signal, 2)).map(text)).toEqual(["zipped 1", "zipped 2"]);
  });

  it("leaves a corrupt gzip file in place after the lines it could read, without reading it over and over", async () => {
    const dir = freshDirectory();
    const whole = gzipSync(`${"line\n".repeat(20_000)}`);
    // The start of a gzip stream that breaks off: the first lines decompress, then the stream fails.
    dropFile(dir, "broken.gz", Buffer.concat([whole.subarray(0, 2_000), Buffer.alloc(64, 0xff)]));
    const { source, handle } = await openSource({ inputDirectory: dir });
    const records = await readRecords(source, handle.abort.signal, 100_000, 1_500);
    expect(records.length).toBeGreaterThan(0);
    expect(records.length).toBeLessThan(20_000);
    await ackAll(records);
    expect(await readRecords(source, handle.abort.signal, 1, 1_500).then((r) => r.length)).toBe(0);
    expect(visibleFiles(dir)).toEqual(["broken.gz"]);
    expect(handle.logger.lines.some((entry) => /cannot read the file/.test(entry.message))).toBe(true);
  });

  it("applies fileFilter, hidden files, minimumSize, maximumSize, recurse and pathFilter as upstream", async () => {
    const dir = freshDirectory();
    mkdirSync(join(dir, "keep", "deep"), { recursive: true });
    mkdirSync(join(dir, "skip"));
    writeFileSync(join(dir, "in.log"), "root\n");
    writeFileSync(join(dir, "out.txt"), "filtered by name\n");
    writeFileSync(join(dir, ".hidden.log"), "hidden\n");
    writeFileSync(join(dir, "empty.log"), "");
    writeFileSync(join(dir, "big.log"), `${"x".repeat(100)}\n`);
    writeFileSync(join(dir, "keep", "k.log"), "keep\n");
    writeFileSync(join(dir, "skip", "s.log"), "skip\n");
    writeFileSync(join(dir, "keep", "deep", "d.log"), "deep\n");
    const { source, handle } = await openSource({
      inputDirectory: dir,
      fileFilter: ".*\\.log",
      maximumSize: 50,
      pathFilter: "keep(/.*)?",
    });
    const records = await readRecords(source, handle.abort.signal, 3);
    expect(records.map(text).sort()).toEqual(["deep", "keep", "root"]);
    expect(await readRecords(source, handle.abort.signal, 1, 1_500).then((r) => r.length)).toBe(0);
    const flat = await openSource({ inputDirectory: dir, recurse: false, keepFile: true });
    const rootOnly = await readRecords(flat.source, flat.handle.abort.signal, 10, 1_500);
    // Not acknowledged above, so still there; subdirectories, the hidden and the empty file are left alone.
    expect(rootOnly.map(text).sort()).toEqual(["filtered by name", "root", "x".repeat(100)]);
  });

  it("leaves a file younger than minimumFileAge until it is old enough", async () => {
    const dir = freshDirectory();
    dropFile(dir, "h.txt", "fresh\n");
    const { source, handle } = await openSource({ inputDirectory: dir, minimumFileAge: 1_500 });
    const started = Date.now();
    const records = await readRecords(source, handle.abort.signal, 1);
    expect(records.map(text)).toEqual(["fresh"]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
  });

  it("reads numWorkers files at a time, every line of each", async () => {
    const dir = freshDirectory();
    for (let file = 0; file < 4; file++) {
      dropFile(dir, `w${file}.jsonl`, jsonLines(Array.from({ length: 250 }, (_, i) => file * 1000 + i)));
    }
    const { source, handle } = await openSource({ inputDirectory: dir, numWorkers: 3 });
    const records = await readRecords(source, handle.abort.signal, 1000);
    await ackAll(records);
    expect(new Set(records.map(text)).size).toBe(1000);
    await expect.poll(() => readdirSync(dir), { timeout: 5_000 }).toEqual([]);
  });

  it("refuses numWorkers above 1 under EFFECTIVELY_ONCE, and a missing directory, before reading anything", async () => {
    const dir = freshDirectory();
    await expect(
      openSource({ inputDirectory: dir, numWorkers: 2 }, { processingGuarantee: "EFFECTIVELY_ONCE" }),
    ).rejects.toMatchObject({ code: "INVALID_CONFIG", issues: [{ path: "configs.numWorkers" }] });
    await expect(openSource({ inputDirectory: join(dir, "missing") })).rejects.toMatchObject({
      code: "INVALID_CONFIG",
      issues: [{ path: "configs.inputDirectory", message: "does not exist" }],
    });
  });

  it("under EFFECTIVELY_ONCE gives each file the next ordinal, starts a file only once the one before is stored, and gives a file read again its sequence ids again", async () => {
    const dir = freshDirectory();
    dropFile(dir, "a.txt", "a1\na2\n");
    dropFile(dir, "b.txt", "b1\n");
    const { source, handle } = await openSource({ inputDirectory: dir }, { processingGuarantee: "EFFECTIVELY_ONCE" });
    const first = await readRecords(source, handle.abort.signal, 3, 1_500);
    expect(first.map(text)).toEqual(["a1", "a2"]);
    const sequences = first.map((r) => r.sequence);
    expect(sequences).toEqual([(1n << 36n) | 1n, (1n << 36n) | 2n]);
    await first[0]?.ack?.();
    await first[1]?.fail?.(new Error("not stored"));
    const again = await readRecords(source, handle.abort.signal, 2);
    expect(again.map((r) => [text(r), r.sequence])).toEqual([
      ["a1", sequences[0]],
      ["a2", sequences[1]],
    ]);
    await ackAll(again);
    const next = await readRecords(source, handle.abort.signal, 1);
    expect(next.map((r) => [text(r), r.sequence, r.partitionId])).toEqual([
      ["b1", (2n << 36n) | 1n, first[0]?.partitionId],
    ]);
  });
});
