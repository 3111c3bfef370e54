import { randomBytes } from "node:crypto";
import type { SourceContext } from "@pulsar-connect/core";
import { loadConfig, type SourceInstance, type SourceRecord } from "@pulsar-connect/core";
import type { PostgresEndpoint } from "@pulsar-connect/services";
import { createSourceContext, type TestContextHandle } from "@pulsar-connect/testkit";
import pg from "pg";
import { inject } from "vitest";
import definition from "../src/index.ts";

/** The private PostgreSQL cluster with wal_level=logical that tooling/services starts for these tests. */
export function logicalEndpoint(): PostgresEndpoint {
  const services = inject("services" as never) as { "postgres-logical"?: PostgresEndpoint };
  const endpoint = services["postgres-logical"];
  if (!endpoint) throw new Error("test/services.json must list postgres-logical");
  return endpoint;
}

/** Endpoints of the Pulsar broker that tooling/services started for this project. */
export function pulsarEndpoints(): { serviceUrl: string; adminUrl: string } {
  const services = inject("services" as never) as { pulsar?: { serviceUrl: string; webServiceUrl: string } };
  if (!services.pulsar) throw new Error("test/services.json must list pulsar");
  return { serviceUrl: services.pulsar.serviceUrl, adminUrl: services.pulsar.webServiceUrl };
}

/** A lower-case name nobody else uses (slot, publication, table). */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(5).toString("hex")}`;
}

export async function sql(): Promise<pg.Client> {
  const endpoint = logicalEndpoint();
  const client = new pg.Client({ connectionString: endpoint.connectionString });
  await client.connect();
  return client;
}

/** Connector configs for one table of the test database, on a slot and publication of its own. */
export function cdcConfig(table: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const endpoint = logicalEndpoint();
  return {
    "database.hostname": endpoint.host,
    "database.port": String(endpoint.port),
    "database.user": endpoint.user,
    "database.dbname": endpoint.database,
    "topic.prefix": "cdctest",
    "slot.name": uniqueName("slot"),
    "publication.name": uniqueName("pub"),
    "publication.autocreate.mode": "filtered",
    "table.include.list": `public.${table}`,
    "status.update.interval.ms": 200,
    "poll.interval.ms": 100,
    ...extra,
  };
}

/** Drops the slots and publications a test file created (an unused slot would hold WAL back forever). */
export async function dropReplicationObjects(configs: Array<Record<string, unknown>>): Promise<void> {
  const client = await sql();
  try {
    for (const config of configs) {
      const slot = config["slot.name"] as string;
      await client.query(
        "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL",
        [slot],
      );
      for (let attempt = 0; attempt < 50; attempt++) {
        try {
          await client.query(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1",
            [slot],
          );
          break;
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      await client.query(`DROP PUBLICATION IF EXISTS "${config["publication.name"] as string}"`);
    }
  } finally {
    await client.end();
  }
}

export interface Opened {
  source: SourceInstance;
  handle: TestContextHandle<SourceContext>;
}

/** Opens the source with a fresh test context, optionally carrying over the state of an earlier one. */
export async function openSource(
  configs: Record<string, unknown>,
  earlier?: TestContextHandle<SourceContext>,
): Promise<Opened> {
  const handle = createSourceContext({ name: "cdc-test" });
  if (earlier) for (const [key, value] of earlier.state.values) handle.state.values.set(key, value);
  const source = await definition.open(loadConfig(definition.config, configs), handle.context);
  return { source, handle };
}

/** Reads (and acks, unless told not to) until `count` records arrived or `timeoutMs` passed. */
export async function readRecords(
  opened: Opened,
  count: number,
  options: { ack?: boolean; timeoutMs?: number } = {},
): Promise<SourceRecord[]> {
  const records: SourceRecord[] = [];
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  while (records.length < count && Date.now() < deadline) {
    const batch = await opened.source.read({ maxRecords: count - records.length, signal: opened.handle.abort.signal });
    if (batch === null) break;
    for (const record of batch) {
      records.push(record);
      if (options.ack !== false) await record.ack?.();
    }
  }
  return records;
}

export interface ChangeEvent {
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  op: string;
  source: Record<string, unknown>;
  ts_ms: number;
}

/** The change event of a record: the value part of its KeyValue<JSON key, JSON event>. */
export function eventOf(record: SourceRecord): ChangeEvent {
  return JSON.parse(eventText(record)) as ChangeEvent;
}

/** The change event as the JSON text the source sends. */
export function eventText(record: SourceRecord): string {
  return (record.value as { value: string }).value;
}

/** The key part of a record's KeyValue (JSON text of the key columns), null for a table without a key. */
export function keyOf(record: SourceRecord): string | null {
  return (record.value as { key: string | null }).key;
}
