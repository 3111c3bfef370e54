import { afterAll, describe, expect, it } from "vitest";
import { PulsarClient, PulsarClientError } from "../src/index.ts";
import { newClient, uniqueTopic } from "./helpers.ts";

const client = newClient({ operationTimeoutMs: 10_000 });
afterAll(() => client.close());

describe("bad input", () => {
  it.each([
    "",
    "http://127.0.0.1:6650",
    "pulsar://",
    "pulsar://host:99999",
    "pulsar://host:port",
    "pulsar://a b:6650",
    "127.0.0.1:6650",
  ])("service URL %j is rejected with INVALID_URL", (serviceUrl) => {
    expect(() => new PulsarClient({ serviceUrl })).toThrow(expect.objectContaining({ code: "INVALID_URL" }));
  });

  it("accepts the documented URL forms", () => {
    for (const serviceUrl of ["pulsar://localhost", "pulsar://h1:6650,h2:6650", "pulsar+ssl://broker.example:6651/"]) {
      expect(() => new PulsarClient({ serviceUrl })).not.toThrow();
    }
  });

  it("an unreachable broker fails fast with CONNECTION_FAILED after retries", async () => {
    const c = new PulsarClient({
      serviceUrl: "pulsar://127.0.0.1:1",
      operationTimeoutMs: 2000,
      connectionTimeoutMs: 500,
    });
    const t0 = Date.now();
    const err = await c.createProducer({ topic: "t" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PulsarClientError);
    expect((err as PulsarClientError).code).toBe("CONNECTION_FAILED");
    expect((err as PulsarClientError).retryable).toBe(true);
    expect(Date.now() - t0).toBeLessThan(5000);
    await c.close();
  });

  it.each([
    "persistent://public/default",
    "unknown://public/default/t",
    "public/default/a/b",
    "persistent://public/default/has space",
    "",
  ])("topic name %j is rejected with INVALID_TOPIC", async (topic) => {
    await expect(client.createProducer({ topic })).rejects.toMatchObject({ code: "INVALID_TOPIC" });
    await expect(client.subscribe({ topic, subscription: "s" })).rejects.toMatchObject({ code: "INVALID_TOPIC" });
  });

  it("a topic in a namespace that does not exist is refused by the broker", async () => {
    const err = await client
      .createProducer({ topic: "persistent://public/no-such-namespace-xyz/t" })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PulsarClientError);
    expect((err as PulsarClientError).retryable).toBe(false);
  });

  it("a message above the broker's max message size fails with MESSAGE_TOO_BIG and the producer keeps working", async () => {
    const topic = uniqueTopic("big");
    const producer = await client.createProducer({ topic });
    await expect(producer.send({ value: Buffer.alloc(6 * 1024 * 1024) })).rejects.toMatchObject({
      code: "MESSAGE_TOO_BIG",
    });
    const id = await producer.send({ value: Buffer.alloc(1024 * 1024, 1) });
    expect(id.ledgerId).toBeGreaterThanOrEqual(0n);
    await producer.close();
  });

  it("operations on closed objects fail with CLOSED", async () => {
    const topic = uniqueTopic("closed");
    const producer = await client.createProducer({ topic });
    await producer.close();
    await expect(producer.send({ value: Buffer.from("x") })).rejects.toMatchObject({ code: "CLOSED" });
    const c = newClient();
    await c.close();
    await expect(c.createProducer({ topic })).rejects.toMatchObject({ code: "CLOSED" });
  });

  it("exclusive subscription refuses a second consumer with CONSUMER_BUSY", async () => {
    const topic = uniqueTopic("busy");
    const c1 = await client.subscribe({ topic, subscription: "x" });
    await expect(client.subscribe({ topic, subscription: "x" })).rejects.toMatchObject({ code: "CONSUMER_BUSY" });
    await c1.close();
  });

  it("a second producer with the same name gets PRODUCER_BUSY", async () => {
    const topic = uniqueTopic("pbusy");
    const p1 = await client.createProducer({ topic, producerName: "same" });
    const c2 = newClient({ operationTimeoutMs: 1500 });
    await expect(c2.createProducer({ topic, producerName: "same" })).rejects.toMatchObject({ code: "PRODUCER_BUSY" });
    await c2.close();
    await p1.close();
  });

  it("token auth: the token provider is called on connect", async () => {
    let calls = 0;
    const c = newClient({
      authToken: async () => {
        calls++;
        return "not-checked-by-this-broker";
      },
    });
    const p = await c.createProducer({ topic: uniqueTopic("auth") });
    expect(calls).toBeGreaterThan(0);
    await p.close();
    await c.close();
  });
});
