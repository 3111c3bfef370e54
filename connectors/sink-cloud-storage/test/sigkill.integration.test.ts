import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { createInstance, resolveSinkConfig } from "@pulsar-connect/runtime";
import { afterAll, describe, expect, inject, it } from "vitest";
import definition from "../src/index.ts";
import { freshBucket, getObject, listKeys, s3Client, uniqueName } from "./bucket.ts";

const pulsar = inject("services").pulsar!;
const client = s3Client();
const scratch = mkdtempSync(join(tmpdir(), "cloud-storage-sigkill-"));
afterAll(() => {
  client.destroy();
  rmSync(scratch, { recursive: true, force: true });
});

const PARTITIONS = 3;
const COUNT = 600;
const SCHEMA = {
  type: "record",
  name: "Reading",
  fields: [
    { name: "id", type: "int" },
    { name: "sensor", type: "string" },
  ],
};

async function admin(method: string, path: string, body?: unknown): Promise<void> {
  const response = await fetch(`${pulsar.webServiceUrl}${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
}

/** A partitioned topic with a JSON schema, holding ids 0..COUNT-1 spread round-robin over its partitions. */
async function seedTopic(pulsarClient: PulsarClient): Promise<string> {
  const base = uniqueName("readings");
  await admin("PUT", `/admin/v2/persistent/public/default/${base}/partitions`, PARTITIONS);
  for (let partition = 0; partition < PARTITIONS; partition++) {
    const producer = await pulsarClient.createProducer({
      topic: `persistent://public/default/${base}-partition-${partition}`,
      batchingEnabled: false,
      schema: { type: "JSON", schema: JSON.stringify(SCHEMA) },
    });
    const sends: Promise<unknown>[] = [];
    for (let id = partition; id < COUNT; id += PARTITIONS) {
      sends.push(producer.send({ value: Buffer.from(JSON.stringify({ id, sensor: `s${id % 7}` })) }));
    }
    await Promise.all(sends);
    await producer.close();
  }
  return `persistent://public/default/${base}`;
}

/** Every id in every Parquet object of the bucket, read by DuckDB. */
async function parquetIds(bucket: string): Promise<number[]> {
  const dir = mkdtempSync(join(scratch, "objects-"));
  const keys = (await listKeys(client, bucket)).filter((key) => key.endsWith(".parquet"));
  if (keys.length === 0) return [];
  for (const [i, key] of keys.entries()) writeFileSync(join(dir, `${i}.parquet`), await getObject(client, bucket, key));
  const instance = await DuckDBInstance.create(":memory:");
  const connection = await instance.connect();
  try {
    const rows = (await connection.runAndReadAll(`SELECT id FROM read_parquet('${dir}/*.parquet')`)).getRowObjectsJS();
    return rows.map((row) => Number(row.id));
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

function runUntilKilled(settings: Record<string, unknown>): Promise<{ code: number | null; signal: string | null }> {
  const child = spawn(
    process.execPath,
    ["--conditions=@pulsar-connect/source", join(import.meta.dirname, "fixtures/kill-mid-write.ts")],
    {
      env: { ...process.env, PC_KILL_MID_WRITE: JSON.stringify(settings) },
      stdio: ["ignore", "ignore", "inherit"],
    },
  );
  const limit = setTimeout(() => child.kill("SIGTERM"), 90_000);
  return new Promise((resolve) => {
    child.once("exit", (code, signal) => {
      clearTimeout(limit);
      resolve({ code, signal });
    });
  });
}

describe.each(["EFFECTIVELY_ONCE", "ATLEAST_ONCE"] as const)(
  "cloud-storage sink SIGKILLed between two uploads of one write (%s)",
  (guarantee) => {
    it("keeps every record of a partitioned topic, and under EFFECTIVELY_ONCE each exactly once", {
      timeout: 180_000,
    }, async () => {
      const pulsarClient = new PulsarClient({ serviceUrl: pulsar.serviceUrl });
      try {
        const topic = await seedTopic(pulsarClient);
        // Writes of up to 40 records over three partitions: three objects per write, each of a partition.
        const configs = await freshBucket(client, { formatType: "parquet", batchSize: 40, batchTimeMs: 100 });
        const subscription = uniqueName("sub");
        const exit = await runUntilKilled({
          configs,
          serviceUrl: pulsar.serviceUrl,
          adminUrl: pulsar.webServiceUrl,
          topic,
          subscription,
          guarantee,
          killAfterObjects: 7,
        });
        expect(exit, "the first instance dies by SIGKILL after its 7th upload").toEqual({
          code: null,
          signal: "SIGKILL",
        });
        const atKill = await parquetIds(configs.bucket as string);
        expect(new Set(atKill).size, "the kill lands mid-stream").toBeLessThan(COUNT);
        expect(atKill.length).toBeGreaterThan(0);

        const resolved = resolveSinkConfig({
          name: subscription,
          archive: "builtin://cloud-storage",
          inputs: [topic],
          sourceSubscriptionPosition: "Earliest",
          processingGuarantees: guarantee,
          configs,
          secrets: {},
        });
        if (!resolved.ok) throw new Error(JSON.stringify(resolved.issues));
        const survivor = createInstance({
          kind: "sink",
          config: resolved.value,
          definition,
          instanceId: 0,
          pulsar: { client: pulsarClient, adminUrl: pulsar.webServiceUrl },
        });
        await survivor.start();
        await expect
          .poll(async () => new Set(await parquetIds(configs.bucket as string)).size, {
            timeout: 120_000,
            interval: 500,
          })
          .toBe(COUNT);
        await survivor.stop();
        const final = await parquetIds(configs.bucket as string);
        expect([...new Set(final)].sort((a, b) => a - b)).toEqual(Array.from({ length: COUNT }, (_, id) => id));
        if (guarantee === "EFFECTIVELY_ONCE") expect(final.length, "no record twice").toBe(COUNT);
      } finally {
        await pulsarClient.close();
      }
    });
  },
);
