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
  /** Secrets the config needs, by name. */
  secrets?: Record<string, string>;
  /**
   * Runs the connector through the real runtime against a real broker (at-least-once under injected failures,
   * restart without loss, effectively-once). Give the broker endpoints; omit to run only the direct tests.
   */
  pulsar?: { serviceUrl: string; adminUrl: string };
}

/** What a source's conformance run needs. */
export interface SourceConformanceOptions {
  definition: SourceDefinition;
  config: () => Record<string, unknown> | Promise<Record<string, unknown>>;
  invalidConfig: { configs: Record<string, unknown>; paths: string[] };
  /** Makes the external system hold `count` new records for a config (a no-op for generators). */
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

    if (options.pulsar) runtimeSinkTests(name, options, options.pulsar);
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
  const producer = await client.createProducer({ topic });
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
      expect(await distinct(configs)).toBe(count);
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
      expect(await distinct(configs)).toBe(count);
    } finally {
      await client.close();
    }
  });

  if (options.definition.storesPositions) {
    it("writes every record exactly once when an instance dies before acking (EFFECTIVELY_ONCE)", {
      timeout: 180_000,
    }, async () => {
      const configs = await options.config();
      const topic = `persistent://public/default/${unique()}`;
      const subscription = unique();
      const config = await sinkConfig(configs, topic, "EFFECTIVELY_ONCE", subscription);
      const seedClient = new PulsarClient({ serviceUrl: pulsar.serviceUrl });
      await produceValues(
        seedClient,
        topic,
        Array.from({ length: count }, (_, id) => options.value(id)),
      );
      // The first instance commits two batches, then hangs before it can ack; its connection is then cut.
      const doomedClient = new PulsarClient({ serviceUrl: pulsar.serviceUrl });
      const hanging = wrapSink(options.definition, async (write, call) => {
        const result = await write();
        if (call >= 2) return new Promise(() => {});
        return result;
      });
      const doomed = createInstance({
        kind: "sink",
        config,
        definition: hanging,
        instanceId: 0,
        pulsar: { client: doomedClient, adminUrl: pulsar.adminUrl },
        batchSize: 40,
      });
      await doomed.start();
      await waitUntil(async () => (await distinct(configs)) >= 80, 60_000, "two committed batches");
      await doomedClient.close();
      const survivor = createInstance({
        kind: "sink",
        config,
        definition: options.definition,
        instanceId: 0,
        pulsar: { client: seedClient, adminUrl: pulsar.adminUrl },
      });
      await survivor.start();
      await waitUntil(async () => (await distinct(configs)) >= count, 120_000, `${count} records after the takeover`);
      await survivor.stop();
      await seedClient.close();
      const ids = await options.readBack(configs);
      expect(new Set(ids).size).toBe(count);
      expect(ids.length).toBe(count);
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
      for (const _round of [0, 1]) {
        await options.seed?.(configs, 5);
        const handle = createSourceContext({ secrets: options.secrets ?? {} });
        const source = await definition.open(
          loadConfig(definition.config, configs, handle.context.getSecret),
          handle.context,
        );
        const records: SourceRecord[] = [];
        const deadline = Date.now() + 30_000;
        while (records.length < 5 && Date.now() < deadline) {
          const batch = await source.read({ maxRecords: 5 - records.length, signal: handle.abort.signal });
          if (batch === null) break;
          records.push(...batch);
        }
        expect(records.length).toBeGreaterThanOrEqual(1);
        for (const record of records) {
          expect(record.value).not.toBeUndefined();
          if (options.effectivelyOnce) {
            expect(typeof record.partitionId).toBe("string");
            expect(typeof record.sequence).toBe("bigint");
          }
          await record.ack?.();
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
        while (seen < 10 && Date.now() < deadline) {
          const batch = await source.read({ maxRecords: 10, signal: handle.abort.signal });
          if (batch === null) break;
          for (const record of batch) {
            const previous = last.get(record.partitionId as string);
            if (previous !== undefined) expect(record.sequence as bigint).toBeGreaterThan(previous);
            last.set(record.partitionId as string, record.sequence as bigint);
            await record.ack?.();
            seen += 1;
          }
        }
        expect(seen).toBeGreaterThan(0);
        handle.abort.abort();
        await source.close();
      });
    }
  });
}
