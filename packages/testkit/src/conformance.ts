import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import {
  ConnectorError,
  isSinkDefinition,
  isSourceDefinition,
  loadConfig,
  parseConfig,
  type SinkDefinition,
  type SourceDefinition,
  type SourceRecord,
} from "@pulsar-connect/core";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { createInstance, resolveSinkConfig } from "@pulsar-connect/runtime";
import { describe, expect, it } from "vitest";
import { createSinkContext, createSourceContext, makeSinkRecords } from "./context.ts";
import type { SinkProcessSettings } from "./sink-process.ts";

/** What a sink's conformance run needs to know about the connector and its external system. */
export interface SinkConformanceOptions {
  definition: SinkDefinition;
  /** A valid `configs` object for a fresh, empty target (a new table, keyspace, topic...). Called once per test. */
  config: () => Record<string, unknown> | Promise<Record<string, unknown>>;
  /** An invalid `configs` object and the field paths the error must name. */
  invalidConfig: { configs: Record<string, unknown>; paths: string[] };
  /** The record value for id `id` (JSON-serialisable object with that id). */
  value: (id: number) => unknown;
  /** Ids present in the external system for a config, one entry per stored row (duplicates kept). */
  readBack: (configs: Record<string, unknown>) => Promise<number[]>;
  /**
   * A record written twice shows up twice in `readBack` (no key that overwrites). The at-least-once kill test then
   * also requires the duplicates that a kill between commit and acknowledgement must cause.
   */
  duplicatesVisible?: boolean;
  /** Secrets the config needs, by name. */
  secrets?: Record<string, string>;
  /**
   * The broker the runtime tests run against (at-least-once under injected failures, restart without loss, a process
   * killed between commit and acknowledgement).
   */
  pulsar: { serviceUrl: string; adminUrl: string };
  /**
   * Path or file: URL of the module whose default export is `definition`: the kill tests load the connector from it
   * in a process of their own.
   */
  connectorModule: string;
}

/** What a source's conformance run needs. */
export interface SourceConformanceOptions {
  definition: SourceDefinition;
  config: () => Record<string, unknown> | Promise<Record<string, unknown>>;
  invalidConfig: { configs: Record<string, unknown>; paths: string[] };
  /**
   * Makes the external system hold `count` new records for a config, different from the ones seeded before (omit
   * for generators). With a seed, every seeded record must be read, and none of them twice across reopenings.
   */
  seed?: (configs: Record<string, unknown>, count: number) => Promise<void>;
  /** The source declares partitionId + sequence on every record (needed for EFFECTIVELY_ONCE). */
  effectivelyOnce?: boolean;
  secrets?: Record<string, string>;
}

function expectIssues(
  definition: SinkDefinition | SourceDefinition,
  invalid: { configs: Record<string, unknown>; paths: string[] },
) {
  const result = parseConfig(definition.config, invalid.configs);
  expect(result.ok, "the invalid config must be rejected").toBe(false);
  if (result.ok) return;
  const paths = result.issues.map((issue) => issue.path);
  for (const path of invalid.paths) expect(paths).toContain(path);
  expect(() => loadConfig(definition.config, invalid.configs)).toThrowError(ConnectorError);
}

/** Declares the shared conformance tests of a sink connector (call at the top level of a test file). */
export function describeSinkConformance(name: string, options: SinkConformanceOptions): void {
  const { definition } = options;
  describe(`${name}: sink conformance`, () => {
    it("is a branded sink definition with a described config", () => {
      expect(isSinkDefinition(definition)).toBe(true);
      expect(definition.description.length).toBeGreaterThan(0);
    });

    it("rejects an invalid config with field-level issues", () => {
      expectIssues(definition, options.invalidConfig);
    });

    it("opens and closes twice, writing in between", async () => {
      const configs = await options.config();
      for (const round of [0, 1]) {
        const handle = createSinkContext({ secrets: options.secrets ?? {} });
        const config = loadConfig(definition.config, configs, handle.context.getSecret);
        const sink = await definition.open(config, handle.context);
        const outcome = await sink.write(
          makeSinkRecords([{ value: options.value(round) }], { firstEntryId: BigInt(round) }),
        );
        expect(outcome?.failed ?? []).toEqual([]);
        await sink.close();
      }
      const ids = await options.readBack(configs);
      expect([...new Set(ids)].sort()).toEqual([0, 1]);
    });

    if (definition.storesPositions) {
      it("stores positions with the data and reports them back", async () => {
        const configs = await options.config();
        const handle = createSinkContext({ secrets: options.secrets ?? {} });
        const sink = await definition.open(
          loadConfig(definition.config, configs, handle.context.getSecret),
          handle.context,
        );
        const records = makeSinkRecords(
          [0, 1, 2].map((id) => ({ value: options.value(id) })),
          { ledgerId: 7n, firstEntryId: 40n },
        );
        await sink.write(records);
        const positions = (await sink.storedPositions?.()) ?? [];
        expect(positions).toContainEqual(records[2]?.position);
        await sink.close();
      });
    }

    runtimeSinkTests(name, options, options.pulsar);
  });
}

const byNumber = (a: number, b: number) => a - b;
const range = (count: number) => Array.from({ length: count }, (_, id) => id);

/** Every id of 0..count-1 is stored, each at least once (duplicates allowed), and nothing else. */
function expectEveryId(ids: number[], count: number): void {
  expect([...new Set(ids)].sort(byNumber)).toEqual(range(count));
}

/** Every id of 0..count-1 is stored exactly once, and nothing else. */
function expectEachIdOnce(ids: number[], count: number): void {
  expect([...ids].sort(byNumber)).toEqual(range(count));
}

const sinkProcessFile = fileURLToPath(
  new URL(import.meta.url.endsWith(".ts") ? "./sink-process.ts" : "./sink-process.mjs", import.meta.url),
);

/** Runs a sink in a child process until it exits; it kills itself with SIGKILL after the chosen write. */
function runSinkProcess(settings: SinkProcessSettings): Promise<{ code: number | null; signal: string | null }> {
  const conditions = sinkProcessFile.endsWith(".ts") ? ["--conditions=@pulsar-connect/source"] : [];
  const child = spawn(process.execPath, [...conditions, sinkProcessFile], {
    env: { ...process.env, PC_SINK_PROCESS: JSON.stringify(settings) },
    stdio: ["ignore", "ignore", "inherit"],
  });
  // A process that never reaches its kill point is stopped and shows up as not killed by SIGKILL.
  const limit = setTimeout(() => child.kill("SIGTERM"), 90_000);
  return new Promise((resolve) => {
    child.once("exit", (code, signal) => {
      clearTimeout(limit);
      resolve({ code, signal });
    });
  });
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

async function produceValues(client: PulsarClient, topic: string, values: unknown[]): Promise<void> {
  // One message per entry: the runtime ends a sink batch on an entry boundary, so batchSize then bounds each write.
  const producer = await client.createProducer({ topic, batchingEnabled: false });
  await Promise.all(values.map((value) => producer.send({ value: Buffer.from(JSON.stringify(value)) })));
  await producer.close();
}

/** A copy of a sink definition whose writes are wrapped by `around`. */
function wrapSink(
  definition: SinkDefinition,
  around: (write: () => Promise<unknown>, call: number) => Promise<unknown>,
): SinkDefinition {
  let calls = 0;
  return {
    ...definition,
    async open(config, context) {
      const inner = await definition.open(config, context);
      return {
        ...inner,
        write: (records) => {
          calls += 1;
          return around(() => inner.write(records), calls) as ReturnType<typeof inner.write>;
        },
        storedPositions: inner.storedPositions?.bind(inner),
        close: () => inner.close(),
      };
    },
  } as SinkDefinition;
}

function runtimeSinkTests(
  name: string,
  options: SinkConformanceOptions,
  pulsar: { serviceUrl: string; adminUrl: string },
): void {
  const unique = () =>
    `${name.replace(/[^a-z0-9]/gi, "-")}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
  const count = 300;
  const distinct = async (configs: Record<string, unknown>) => new Set(await options.readBack(configs)).size;

  async function sinkConfig(
    configs: Record<string, unknown>,
    topic: string,
    guarantee: "ATLEAST_ONCE" | "EFFECTIVELY_ONCE",
    subscriptionName: string,
  ) {
    const resolved = resolveSinkConfig({
      name: subscriptionName,
      archive: `builtin://${options.definition.name}`,
      inputs: [topic],
      sourceSubscriptionPosition: "Earliest",
      processingGuarantees: guarantee,
      configs,
      secrets: options.secrets ?? {},
    });
    if (!resolved.ok) throw new Error(JSON.stringify(resolved.issues));
    return resolved.value;
  }

  it("delivers every record through the runtime when writes fail now and then (ATLEAST_ONCE)", {
    timeout: 180_000,
  }, async () => {
    const client = new PulsarClient({ serviceUrl: pulsar.serviceUrl });
    try {
      const configs = await options.config();
      const topic = `persistent://public/default/${unique()}`;
      await produceValues(
        client,
        topic,
        Array.from({ length: count }, (_, id) => options.value(id)),
      );
      const flaky = wrapSink(options.definition, async (write, call) => {
        if (call % 3 === 1) throw new ConnectorError("CONNECTION_FAILED", "injected failure");
        return write();
      });
      const instance = createInstance({
        kind: "sink",
        config: await sinkConfig(configs, topic, "ATLEAST_ONCE", unique()),
        definition: flaky,
        instanceId: 0,
        pulsar: { client, adminUrl: pulsar.adminUrl },
        batchSize: 50,
      });
      await instance.start();
      await waitUntil(async () => (await distinct(configs)) >= count, 120_000, `${count} records in the sink`);
      await instance.stop();
      expectEveryId(await options.readBack(configs), count);
      expect(instance.stats.connectorExceptions).toBeGreaterThan(0);
    } finally {
      await client.close();
    }
  });

  it("resumes without loss after a restart (ATLEAST_ONCE)", { timeout: 180_000 }, async () => {
    const client = new PulsarClient({ serviceUrl: pulsar.serviceUrl });
    try {
      const configs = await options.config();
      const topic = `persistent://public/default/${unique()}`;
      const subscription = unique();
      const config = await sinkConfig(configs, topic, "ATLEAST_ONCE", subscription);
      const make = () =>
        createInstance({
          kind: "sink",
          config,
          definition: options.definition,
          instanceId: 0,
          pulsar: { client, adminUrl: pulsar.adminUrl },
        });
      const first = make();
      await first.start();
      await produceValues(
        client,
        topic,
        Array.from({ length: count / 2 }, (_, id) => options.value(id)),
      );
      await waitUntil(async () => (await distinct(configs)) >= 1, 60_000, "the first records");
      await first.stop();
      await produceValues(
        client,
        topic,
        Array.from({ length: count / 2 }, (_, i) => options.value(count / 2 + i)),
      );
      const second = make();
      await second.start();
      await waitUntil(async () => (await distinct(configs)) >= count, 120_000, `${count} records after the restart`);
      await second.stop();
      expectEveryId(await options.readBack(configs), count);
    } finally {
      await client.close();
    }
  });

  /**
   * Runs a first instance in a child process that kills itself with SIGKILL right after its second write returned
   * (the batch is stored, its acknowledgement not sent), checks that the kill landed mid-stream, then lets an
   * instance in this process finish. Returns the ids stored at the kill and at the end.
   */
  async function killedAfterCommit(guarantee: "ATLEAST_ONCE" | "EFFECTIVELY_ONCE") {
    const configs = await options.config();
    const topic = `persistent://public/default/${unique()}`;
    const subscription = unique();
    const client = new PulsarClient({ serviceUrl: pulsar.serviceUrl });
    try {
      await produceValues(client, topic, range(count).map(options.value));
      const exit = await runSinkProcess({
        connectorModule: options.connectorModule,
        configs,
        secrets: options.secrets ?? {},
        serviceUrl: pulsar.serviceUrl,
        adminUrl: pulsar.adminUrl,
        topic,
        subscription,
        guarantee,
        batchSize: 40,
        killAfterWrite: 2,
      });
      expect(exit, "the first instance dies by SIGKILL at its kill point").toEqual({ code: null, signal: "SIGKILL" });
      const atKill = await options.readBack(configs);
      expect(atKill.length, "records stored before the kill").toBeGreaterThan(0);
      expect(new Set(atKill).size, "the kill lands before the end of the stream").toBeLessThan(count);
      const survivor = createInstance({
        kind: "sink",
        config: await sinkConfig(configs, topic, guarantee, subscription),
        definition: options.definition,
        instanceId: 0,
        pulsar: { client, adminUrl: pulsar.adminUrl },
      });
      await survivor.start();
      await waitUntil(async () => (await distinct(configs)) >= count, 120_000, `${count} records after the kill`);
      await survivor.stop();
      return { atKill, final: await options.readBack(configs) };
    } finally {
      await client.close();
    }
  }

  it("loses no record when its process is SIGKILLed after a commit, before the ack (ATLEAST_ONCE)", {
    timeout: 180_000,
  }, async () => {
    const { final } = await killedAfterCommit("ATLEAST_ONCE");
    expectEveryId(final, count);
    if (options.duplicatesVisible) {
      expect(final.length, "the batch stored but not acknowledged comes again").toBeGreaterThan(count);
    }
  });

  if (options.definition.storesPositions) {
    it("writes every record exactly once when its process is SIGKILLed after a commit, before the ack (EFFECTIVELY_ONCE)", {
      timeout: 180_000,
    }, async () => {
      const { final } = await killedAfterCommit("EFFECTIVELY_ONCE");
      expectEachIdOnce(final, count);
    });
  }
}

/** Declares the shared conformance tests of a source connector. */
export function describeSourceConformance(name: string, options: SourceConformanceOptions): void {
  const { definition } = options;
  describe(`${name}: source conformance`, () => {
    it("is a branded source definition with a described config", () => {
      expect(isSourceDefinition(definition)).toBe(true);
      expect(definition.description.length).toBeGreaterThan(0);
    });

    it("rejects an invalid config with field-level issues", () => {
      expectIssues(definition, options.invalidConfig);
    });

    it("opens, reads, acks and closes twice", async () => {
      const configs = await options.config();
      const perRound = 5;
      const seenBefore = new Set<string>();
      for (const _round of [0, 1]) {
        await options.seed?.(configs, perRound);
        const handle = createSourceContext({ secrets: options.secrets ?? {} });
        const source = await definition.open(
          loadConfig(definition.config, configs, handle.context.getSecret),
          handle.context,
        );
        const records: SourceRecord[] = [];
        const deadline = Date.now() + 30_000;
        while (records.length < perRound && Date.now() < deadline) {
          const batch = await source.read({ maxRecords: perRound - records.length, signal: handle.abort.signal });
          if (batch === null) break;
          records.push(...batch);
        }
        expect(records.length, "every seeded record is read").toBe(perRound);
        for (const record of records) {
          expect(record.value).not.toBeUndefined();
          if (options.effectivelyOnce) {
            expect(typeof record.partitionId).toBe("string");
            expect(typeof record.sequence).toBe("bigint");
          }
          await record.ack?.();
        }
        if (options.seed) {
          // Acknowledged records of the first opening must not come back after reopening.
          const values = records.map((record) => JSON.stringify(record.value));
          expect(values.filter((value) => seenBefore.has(value))).toEqual([]);
          for (const value of values) seenBefore.add(value);
        }
        handle.abort.abort();
        await source.close();
      }
    });

    if (options.effectivelyOnce) {
      it("gives increasing sequences within each partition", async () => {
        const configs = await options.config();
        await options.seed?.(configs, 10);
        const handle = createSourceContext({ secrets: options.secrets ?? {} });
        const source = await definition.open(
          loadConfig(definition.config, configs, handle.context.getSecret),
          handle.context,
        );
        const last = new Map<string, bigint>();
        const deadline = Date.now() + 30_000;
        let seen = 0;
        let compared = 0;
        while (seen < 10 && Date.now() < deadline) {
          const batch = await source.read({ maxRecords: 10 - seen, signal: handle.abort.signal });
          if (batch === null) break;
          for (const record of batch) {
            const previous = last.get(record.partitionId as string);
            if (previous !== undefined) {
              expect(record.sequence as bigint).toBeGreaterThan(previous);
              compared += 1;
            }
            last.set(record.partitionId as string, record.sequence as bigint);
            await record.ack?.();
            seen += 1;
          }
        }
        expect(seen, "every seeded record is read").toBe(10);
        expect(compared, "some partition gave more than one record").toBeGreaterThan(0);
        handle.abort.abort();
        await source.close();
      });
    }
  });
}
