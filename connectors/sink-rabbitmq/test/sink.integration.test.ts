import { ConnectorError, loadConfig } from "@pulsar-connect/core";
import { privateServer } from "@pulsar-connect/services/private-server";
import { uniqueName } from "@pulsar-connect/test-support";
import { peekQueue, rabbitmq } from "@pulsar-connect/test-support/rabbitmq";
import { createSinkContext, makeSinkRecords } from "@pulsar-connect/testkit";
import amqp from "amqplib";
import { describe, expect, it } from "vitest";
import definition from "../src/index.ts";

const ownBroker = privateServer("rabbitmq");

async function openSink(configs: Record<string, unknown>) {
  const handle = createSinkContext({ name: "rabbitmq-sink-test" });
  const sink = await definition.open(loadConfig(definition.config, configs), handle.context);
  return { sink, handle };
}

describe("RabbitMQ sink against a real broker", () => {
  it("publishes to a quorum queue with confirms, properties as headers, the Pulsar id as message-id", async () => {
    const queueName = uniqueName("quorum");
    const { sink } = await openSink({
      host: rabbitmq().host,
      port: rabbitmq().port,
      exchangeName: uniqueName("x"),
      queueName,
      queueType: "quorum",
      routingKey: "rk",
    });
    const records = makeSinkRecords([
      { value: { id: 1 }, properties: { origin: "test" } },
      { value: { id: 2 }, key: "k2" },
    ]);
    expect(await sink.write(records)).toBeUndefined();
    await sink.close();

    const connection = await amqp.connect(rabbitmq().url);
    const channel = await connection.createChannel();
    const declared = await channel.checkQueue(queueName);
    expect(declared.messageCount).toBe(2);
    await connection.close();
    const messages = await peekQueue(rabbitmq().url, queueName);
    expect(messages.map((m) => JSON.parse(m.content.toString()))).toEqual([{ id: 1 }, { id: 2 }]);
    expect(messages[0]?.properties.headers).toMatchObject({ origin: "test" });
    expect(messages[0]?.properties.messageId).toBe(records[0]?.messageId);
    expect(messages[0]?.properties.deliveryMode).toBe(2);
    // A quorum queue refuses a redeclaration as classic: proves the type the sink declared.
    const check = await amqp.connect(rabbitmq().url);
    const probe = await check.createChannel();
    probe.on("error", () => {});
    await expect(probe.assertQueue(queueName, { durable: true })).rejects.toThrow(/x-queue-type/);
    await check.close();
  });

  it("routes by the record's routingKey property over the configured key", async () => {
    const exchangeName = uniqueName("topic-x");
    const queue = uniqueName("bound");
    const connection = await amqp.connect(rabbitmq().url);
    const channel = await connection.createChannel();
    await channel.assertExchange(exchangeName, "topic", { durable: true });
    await channel.assertQueue(queue, { durable: true });
    await channel.bindQueue(queue, exchangeName, "orders.*");
    await connection.close();
    const { sink } = await openSink({
      host: rabbitmq().host,
      port: rabbitmq().port,
      exchangeName,
      exchangeType: "topic",
      routingKey: "orders.default",
    });
    const outcome = await sink.write(
      makeSinkRecords([
        { value: { id: 1 } },
        { value: { id: 2 }, properties: { routingKey: "orders.eu" } },
        { value: { id: 3 }, properties: { routingKey: "invoices.eu" } },
      ]),
    );
    await sink.close();
    // The third matches no binding: reported, not dropped.
    expect(outcome?.failed.map((f) => f.index)).toEqual([2]);
    expect(outcome?.failed[0]?.error).toMatchObject({ code: "WRITE_FAILED", retryable: false });
    expect(outcome?.failed[0]?.error.message).toMatch(/invoices\.eu/);
    const ids = (await peekQueue(rabbitmq().url, queue)).map((m) => JSON.parse(m.content.toString()).id);
    expect(ids).toEqual([1, 2]);
  });

  it("fails writes with a retryable error naming the cause while the broker is down, and recovers after", {
    timeout: 120_000,
  }, async () => {
    const { host, port, url } = ownBroker.endpoint();
    const queueName = uniqueName("recover");
    const { sink } = await openSink({ host, port, exchangeName: uniqueName("x"), queueName, routingKey: "r" });
    expect(await sink.write(makeSinkRecords([{ value: { id: 1 } }]))).toBeUndefined();
    await ownBroker.kill();
    const down = await sink.write(makeSinkRecords([{ value: { id: 2 } }])).catch((error: unknown) => error);
    expect(down).toBeInstanceOf(ConnectorError);
    expect(down).toMatchObject({ code: "CONNECTION_FAILED", retryable: true });
    expect((down as Error).message).toMatch(new RegExp(`${port}|closed|ECONNREFUSED`));
    await ownBroker.start();
    // The runtime retries with backoff; here the test retries until the sink reconnected.
    await expect
      .poll(
        async () =>
          sink.write(makeSinkRecords([{ value: { id: 2 } }])).then(
            () => "written",
            (error: Error) => error.message,
          ),
        { timeout: 60_000, interval: 500 },
      )
      .toBe("written");
    await sink.close();
    const ids = (await peekQueue(url, queueName)).map((m) => JSON.parse(m.content.toString()).id);
    expect(ids).toEqual([1, 2]);
  });

  it("refuses to open with a clear error when the credentials are wrong", async () => {
    const error = await openSink({
      host: rabbitmq().host,
      port: rabbitmq().port,
      exchangeName: "x",
      username: "nobody",
      password: "wrong",
    }).catch((failure: unknown) => failure);
    expect(error).toMatchObject({ code: "AUTH_FAILED", retryable: false });
  });
});
