import { randomUUID } from "node:crypto";
import { describe, expect, inject, it } from "vitest";
import { serviceStatus, upServices } from "../src/index.ts";

const pulsar = inject("services").pulsar!;
const admin = `${pulsar.webServiceUrl}/admin/v2`;

async function call(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${admin}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

describe("pulsar standalone", () => {
  it("creates a topic and reports its stats", async () => {
    const topic = `services-smoke-${randomUUID()}`;
    expect((await call("PUT", `/persistent/public/default/${topic}`)).status).toBe(204);
    const stats = await call("GET", `/persistent/public/default/${topic}/stats`);
    expect(stats.status).toBe(200);
    const body = (await stats.json()) as { msgInCounter: number; publishers: unknown[]; subscriptions: object };
    expect(body.msgInCounter).toBe(0);
    expect(body.publishers).toEqual([]);
    const list = (await (await call("GET", "/persistent/public/default")).json()) as string[];
    expect(list).toContain(`persistent://public/default/${topic}`);
    expect((await call("DELETE", `/persistent/public/default/${topic}`)).status).toBe(204);
  });

  it("runs with the broker settings the tests rely on", async () => {
    const response = await call("GET", "/brokers/configuration/runtime");
    expect(response.status).toBe(200);
    const config = (await response.json()) as Record<string, string>;
    expect(config.transactionCoordinatorEnabled).toBe("true");
    expect(config.brokerDeduplicationEnabled).toBe("false");
    expect(config.brokerDeleteInactiveTopicsEnabled).toBe("false");
    expect(config.allowAutoTopicCreation).toBe("true");
    expect(config.maxMessageSize).toBe(String(5 * 1024 * 1024));
  });

  it("lets a namespace turn deduplication on", async () => {
    const namespace = `public/services-${randomUUID().slice(0, 8)}`;
    expect((await call("PUT", `/namespaces/${namespace}`)).status).toBe(204);
    expect((await call("POST", `/namespaces/${namespace}/deduplication`, true)).status).toBe(204);
    expect(await (await call("GET", `/namespaces/${namespace}/deduplication`)).json()).toBe(true);
    expect((await call("DELETE", `/namespaces/${namespace}?force=true`)).status).toBe(204);
  });

  it("has the transaction coordinator topic and a healthy bookie", async () => {
    const partitions = await call("GET", "/persistent/pulsar/system/transaction_coordinator_assign/partitions");
    expect(partitions.status).toBe(200);
    expect(((await partitions.json()) as { partitions: number }).partitions).toBeGreaterThan(0);
    // The health check writes and reads a heartbeat topic through the bookie.
    const health = await call("GET", "/brokers/health");
    expect(health.status).toBe(200);
    expect(await health.text()).toBe("ok");
  });

  it("reuses the running server and reports it in the status", async () => {
    const [again] = await upServices(["pulsar"]);
    expect(again?.action === "reused" || again?.action === "external").toBe(true);
    expect(again?.endpoint.port).toBe(pulsar.port);
    expect(again?.ms).toBeLessThan(15_000);
    const [row] = await serviceStatus(["pulsar"]);
    expect(row?.condition === "running" || row?.condition === "external").toBe(true);
    if (row?.condition === "running") {
      expect(row.pid).toBeGreaterThan(0);
      expect(row.rssMb).toBeGreaterThan(50);
    }
  });
});
