import { inject } from "vitest";

const services = () =>
  inject("services" as never) as {
    pulsar?: { serviceUrl: string; webServiceUrl: string };
    influxdb?: { url: string };
  };

/** Endpoints of the Pulsar broker that tooling/services started for this project. */
export function pulsarEndpoints(): { serviceUrl: string; adminUrl: string } {
  const pulsar = services().pulsar;
  return {
    serviceUrl: pulsar?.serviceUrl ?? "pulsar://127.0.0.1:6650",
    adminUrl: pulsar?.webServiceUrl ?? "http://127.0.0.1:8080",
  };
}

/** HTTP API of the InfluxDB that tooling/services started (or found) for this project. */
export function influxdbUrl(): string {
  return services().influxdb?.url ?? "http://127.0.0.1:8086";
}

/** A database name nobody else uses. */
export function uniqueDatabase(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6)}`;
}

export interface Series {
  name: string;
  tags?: Record<string, string>;
  columns: string[];
  values: unknown[][];
}

/** Runs an InfluxQL query and returns its series (none when the measurement is empty or missing). */
export async function query(database: string, q: string, url: string = influxdbUrl()): Promise<Series[]> {
  const target = new URL("/query", url);
  target.searchParams.set("db", database);
  target.searchParams.set("q", q);
  target.searchParams.set("epoch", "ns");
  const response = await fetch(target);
  const body = (await response.json()) as { results?: Array<{ series?: Series[]; error?: string }>; error?: string };
  const error = body.error ?? body.results?.[0]?.error;
  if (error !== undefined) throw new Error(`InfluxQL ${q}: ${error}`);
  return body.results?.[0]?.series ?? [];
}

/** Rows of a query as objects keyed by column. */
export async function rows(database: string, q: string, url?: string): Promise<Array<Record<string, unknown>>> {
  const series = await query(database, q, url);
  return series.flatMap((s) => s.values.map((row) => Object.fromEntries(s.columns.map((c, i) => [c, row[i]]))));
}
