// InfluxDB started from Debian's `influxdb` package in a folder of its own (as on a machine where none runs), killed,
// and started again on its data.
import { describe, expect, it } from "vitest";
import { privateServer } from "../src/private-server.ts";

const influxdb = privateServer("influxdb");

async function influxql(url: string, q: string): Promise<string> {
  const target = new URL("/query", url);
  target.searchParams.set("q", q);
  target.searchParams.set("db", "probe");
  return (await fetch(target, { method: "POST" })).text();
}

describe("InfluxDB from its Debian package", () => {
  it("answers /ping, stores a point, and keeps it across a kill (WAL in its folder)", {
    timeout: 120_000,
  }, async () => {
    const { url } = influxdb.endpoint();
    const ping = await fetch(new URL("/ping", url));
    expect(ping.status).toBe(204);
    expect(ping.headers.get("x-influxdb-version")).toMatch(/^1\./);
    await influxql(url, "CREATE DATABASE probe");
    const write = await fetch(new URL("/write?db=probe", url), { method: "POST", body: "m v=1i 1000000000" });
    expect(write.status).toBe(204);
    await influxdb.kill();
    await expect(fetch(new URL("/ping", url))).rejects.toThrow();
    await influxdb.start();
    expect(await influxql(url, 'SELECT "v" FROM "m"')).toContain('"values":[["1970-01-01T00:00:01Z",1]]');
  });
});
