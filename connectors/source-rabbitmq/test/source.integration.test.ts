import { ConnectorError, loadConfig, type SourceInstance, type SourceRecord } from "@pulsar-connect/core";
import { privateServer } from "@pulsar-connect/services/private-server";
import { uniqueName } from "@pulsar-connect/test-support";
import { rabbitmq } from "@pulsar-connect/test-support/rabbitmq";
import { createSourceContext } from "@pulsar-connect/testkit";
import amqp from "amqplib";
import { describe, expect, it } from "vitest";
import definition from "../src/index.ts";

const ownBroker = privateServer("rabbitmq");

async function open(configs: Record<string, unknown>) {
  const handle = createSourceContext({ name: "rabbitmq-source-test" });
  const source = await definition.open(loadConfig(definition.config, configs), handle.context);
  return { source, handle };
}

async function readAtLeast(source: SourceInstance, count: number): Promise<SourceRecord<Uint8Array>[]> {
  const records: SourceRecord<Uint8Array>[] = [];
  const signal = new AbortController().signal;
  await expect
    .poll(
      async () => {
        records.push(...((await source.read({ maxRecords: 100, signal })) as SourceRecord<Uint8Array>[]));
        return records.length;
      },
      { timeout: 20_000, interval: 10 },
    )
    .toBeGreaterThanOrEqual(count);
  return records;
}

async function queueDepth(url: string, queue: string): Promise<number> {
  const connection = await amqp.connect(url);
  try {
    return (await (await connection.createChannel()).checkQueue(queue)).messageCount;
  } finally {
    await connection.close();
  }
}

async function publish(url: string, queue: string, bodies: string[], options: amqp.Options.Publish = {}) {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createConfirmChannel();
    for (const body of bodies) channel.sendToQueue(queue, Buffer.from(body), { persistent: true, ...options });
    await channel.waitForConfirms();
  } finally {
    await connection.close();
  }
}

const ids = (records: SourceRecord<Uint8Array>[]) => records.map((r) => Buffer.from(r.value).toString());

describe("RabbitMQ source against a real broker", () => {
  it("declares a quorum queue, carries headers and routing key, acks only what the runtime settles", async () => {
    const queueName = uniqueName("quorum-src");
    const { source } = await open({
      host: rabbitmq().host,
      port: rabbitmq().port,
      queueName,
      queueType: "quorum",
      prefetchCount: 10,
    });
    await publish(rabbitmq().url, queueName, ["a", "b", "c"], { headers: { tenant: "t1" }, messageId: "m" });
    const records = await readAtLeast(source, 3);
    expect(ids(records)).toEqual(["a", "b", "c"]);
    expect(records[0]?.key).toBe(queueName);
    expect(records[0]?.properties).toMatchObject({ tenant: "t1", "amqp.messageId": "m" });
    await records[0]?.ack?.();
    await records[1]?.fail?.(new Error("send failed"));
    await source.close();
    // a acked; b requeued by fail; c never settled, back after close.
    expect(await queueDepth(rabbitmq().url, queueName)).toBe(2);
    const again = await open({ host: rabbitmq().host, port: rabbitmq().port, queueName, queueType: "quorum" });
    expect(ids(await readAtLeast(again.source, 2)).sort()).toEqual(["b", "c"]);
    await again.source.close();
  });

  it("refuses a passive queue that does not exist, without retrying", async () => {
    const error = await open({
      host: rabbitmq().host,
      port: rabbitmq().port,
      queueName: uniqueName("missing"),
      passive: true,
    }).catch((failure: unknown) => failure);
    expect(error).toBeInstanceOf(ConnectorError);
    expect(error).toMatchObject({ code: "NOT_FOUND", retryable: false });
  });

  it("fails reads with a retryable error while the broker is down and resumes after, losing nothing", {
    timeout: 120_000,
  }, async () => {
    const { host, port, url } = ownBroker.endpoint();
    const queueName = uniqueName("recover-src");
    const { source } = await open({ host, port, queueName, prefetchCount: 50 });
    await publish(url, queueName, ["1", "2"]);
    const first = await readAtLeast(source, 2);
    await first[0]?.ack?.();
    // Record 2 is in flight (read, not settled) when the broker dies.
    await ownBroker.kill();
    const signal = new AbortController().signal;
    await expect
      .poll(
        () =>
          source.read({ maxRecords: 10, signal }).then(
            () => "read",
            (error: ConnectorError) => `${error.code} ${error.retryable}`,
          ),
        {
          timeout: 20_000,
        },
      )
      .toBe("CONNECTION_FAILED true");
    // Settling a delivery of the dead channel must not throw or ack anything on a later one.
    await first[1]?.ack?.();
    await ownBroker.start();
    await publish(url, queueName, ["3"]);
    const after: SourceRecord<Uint8Array>[] = [];
    await expect
      .poll(
        async () => {
          const batch = await source.read({ maxRecords: 10, signal }).catch(() => []);
          after.push(...(batch as SourceRecord<Uint8Array>[]));
          return ids(after);
        },
        { timeout: 60_000, interval: 200 },
      )
      // The ack of 1 may not have reached the broker before the kill (AMQP acks are not confirmed): it may come again.
      .toEqual(expect.arrayContaining(["2", "3"]));
    for (const record of after) await record.ack?.();
    await source.close();
    expect(await queueDepth(url, queueName)).toBe(0);
  });
});
