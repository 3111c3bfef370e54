import { spawn } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type ConnectorError, loadConfig } from "@pulsar-connect/core";
import { createSinkContext, makeSinkRecords } from "@pulsar-connect/testkit";
import { afterAll, describe, expect, it } from "vitest";
import definition from "../src/index.ts";
import { finishedContents, finishedFiles, freshDirectory, removeDirectories } from "./files.ts";

afterAll(removeDirectories);

async function openSink(configs: Record<string, unknown>, instanceId = 0) {
  const handle = createSinkContext({ name: "file-sink-test", instanceId });
  return definition.open(loadConfig(definition.config, configs), handle.context);
}

const ids = (from: number, count: number) => Array.from({ length: count }, (_, i) => ({ value: { id: from + i } }));

describe("file sink on real directories", () => {
  it("appends one JSON line per record and finishes a file once it reaches rollSizeBytes", async () => {
    const directory = freshDirectory();
    const sink = await openSink({ directory, rollSizeBytes: 30, fileNamePattern: "out-%i-%n.jsonl" });
    await sink.write(makeSinkRecords(ids(0, 2))); // 2 x 9 bytes: stays in progress
    expect(finishedFiles(directory)).toEqual([]);
    expect(readdirSync(directory)).toEqual([".pc-0.out-0-0.jsonl.inprogress"]);
    await sink.write(makeSinkRecords(ids(2, 2))); // reaches 36 bytes: finished
    await sink.write(makeSinkRecords(ids(4, 1)));
    await sink.close(); // finishes the last one
    expect(finishedFiles(directory)).toEqual(["out-0-0.jsonl", "out-0-1.jsonl"]);
    expect(finishedContents(directory)).toEqual(['{"id":0}\n{"id":1}\n{"id":2}\n{"id":3}\n', '{"id":4}\n']);
  });

  it("finishes a file after rollIntervalMs even when nothing more is written", { timeout: 20_000 }, async () => {
    const directory = freshDirectory();
    const sink = await openSink({ directory, rollIntervalMs: 300 });
    await sink.write(makeSinkRecords(ids(0, 1)));
    await expect.poll(() => finishedFiles(directory).length, { timeout: 10_000 }).toBe(1);
    expect(finishedFiles(directory)[0]).toMatch(/^pulsar-0-\d{8}T\d{9}Z-0\.log$/);
    await sink.close();
  });

  it("writes format string as raw lines and refuses records that would not be one line", async () => {
    const directory = freshDirectory();
    const sink = await openSink({ directory, format: "string" });
    const outcome = await sink.write(
      makeSinkRecords([{ value: "first line" }, { value: "two\nlines" }, { value: "third" }]),
    );
    await sink.close();
    expect(outcome?.failed.map((f) => [f.index, (f.error as ConnectorError).code])).toEqual([[1, "INVALID_RECORD"]]);
    expect(finishedContents(directory)).toEqual(["first line\nthird\n"]);
    const json = await openSink({ directory: freshDirectory(), format: "json" });
    const refused = await json.write(makeSinkRecords([{ value: new TextEncoder().encode("not json") }]));
    await json.close();
    expect(refused?.failed[0]?.error.message).toMatch(/not JSON/);
  });

  it("never replaces an existing file of the same name", async () => {
    const directory = freshDirectory();
    writeFileSync(join(directory, "fixed-0.log"), "someone else's\n");
    const sink = await openSink({ directory, fileNamePattern: "fixed-%n.log" });
    await sink.write(makeSinkRecords(ids(0, 1)));
    await sink.close();
    expect(readFileSync(join(directory, "fixed-0.log"), "utf8")).toBe("someone else's\n");
    expect(finishedFiles(directory)).toEqual(["fixed-0.log", "fixed-1.log"]);
  });

  it("finishes what a killed run left, cut back to its last whole line, and leaves other instances' files", async () => {
    const directory = freshDirectory();
    writeFileSync(join(directory, ".pc-0.left-0.log.inprogress"), '{"id":1}\n{"id":2}\n{"id":');
    writeFileSync(join(directory, ".pc-0.empty-0.log.inprogress"), '{"id":');
    writeFileSync(join(directory, ".pc-1.other-0.log.inprogress"), '{"id":9}\n');
    const sink = await openSink({ directory });
    await sink.close();
    expect(finishedFiles(directory)).toEqual(["left-0.log"]);
    expect(finishedContents(directory)).toEqual(['{"id":1}\n{"id":2}\n']);
    expect(readdirSync(directory).sort()).toEqual([".pc-1.other-0.log.inprogress", "left-0.log"]);
  });

  it("leaves only whole lines in finished files when its process is SIGKILLed while writing", {
    timeout: 60_000,
  }, async () => {
    const directory = freshDirectory();
    const child = spawn(
      process.execPath,
      ["--conditions=@pulsar-connect/source", join(import.meta.dirname, "fixtures/write-forever.ts"), directory],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    await new Promise<void>((resolve) => child.stdout?.once("data", () => resolve()));
    // Let it write several files, then kill it wherever it is.
    await expect.poll(() => finishedFiles(directory).length, { timeout: 30_000 }).toBeGreaterThanOrEqual(3);
    await new Promise((resolve) => setTimeout(resolve, 37));
    child.kill("SIGKILL");
    await new Promise((resolve) => child.once("exit", resolve));
    const sink = await openSink({ directory });
    await sink.close();
    expect(readdirSync(directory).filter((name) => name.startsWith("."))).toEqual([]);
    const seen: number[] = [];
    for (const text of finishedContents(directory)) {
      expect(text.endsWith("\n")).toBe(true);
      for (const line of text.slice(0, -1).split("\n")) seen.push((JSON.parse(line) as { id: number }).id);
    }
    // In order, without a gap: every line up to the last whole one is there once.
    expect(seen).toEqual(Array.from({ length: seen.length }, (_, i) => i));
  });

  it("refuses EFFECTIVELY_ONCE", async () => {
    const handle = createSinkContext({ processingGuarantee: "EFFECTIVELY_ONCE" });
    await expect(
      definition.open(loadConfig(definition.config, { directory: freshDirectory() }), handle.context),
    ).rejects.toMatchObject({ code: "UNSUPPORTED" });
  });
});
