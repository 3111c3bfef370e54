import { endpointOf, uniqueName } from "@pulsar-connect/test-support";

/** A database name nobody else uses (underscores: InfluxQL needs no quoting for it). */
export function uniqueDatabase(prefix: string): string {
  return uniqueName(prefix).replaceAll("-", "_");
}

export interface Series {
  name: string;
  tags?: Record<string, string>;
  columns: string[];
  values: unknown[][];
}

/** Runs an InfluxQL query and returns its series (none when the measurement is empty or missing). */
export async function query(database: string, q: string, url: string = endpointOf("influxdb").url): Promise<Series[]> {
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
