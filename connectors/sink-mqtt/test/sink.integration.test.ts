import { type ConnectorError, loadConfig } from "@pulsar-connect/core";
import { privateServer } from "@pulsar-connect/services/private-server";
import { uniqueName } from "@pulsar-connect/test-support";
import { brokerUrl, collect } from "@pulsar-connect/test-support/mqtt";
import { createSinkContext, makeSinkRecords } from "@pulsar-connect/testkit";
import { describe, expect, it } from "vitest";
import definition from "../src/index.ts";

const ownBroker = privateServer("mosquitto");

async function openSink(configs: Record<string, unknown>) {
  return definition.open(loadConfig(definition.config, configs), createSinkContext({ name: "mqtt-sink-test" }).context);
}

describe("MQTT sink against Mosquitto", () => {
  for (const [protocolVersion, qos] of [
    [4, 0],
    [4, 1],
    [4, 2],
    [5, 1],
    [5, 2],
  ] as const) {
    it(`publishes with MQTT ${protocolVersion === 4 ? "3.1.1" : "5"} at QoS ${qos}`, async () => {
      const topic = uniqueName("qos");
      const subscriber = await collect(brokerUrl(), topic, { protocolVersion });
      const sink = await openSink({ brokerUrl: brokerUrl(), topic, qos, protocolVersion });
      expect(
        await sink.write(makeSinkRecords([{ value: "a", key: "k", properties: { p: "1" } }, { value: "b" }])),
      ).toBeUndefined();
      await sink.close();
      await expect.poll(() => subscriber.messages.map((m) => m.payload.toString())).toEqual(["a", "b"]);
      if (protocolVersion === 5) {
        expect(subscriber.messages[0]?.properties?.userProperties).toMatchObject({ p: "1", "pulsar-key": "k" });
      }
      await subscriber.client.endAsync();
    });
  }

  it("publishes retained messages when asked", async () => {
    const topic = uniqueName("retain");
    const sink = await openSink({ brokerUrl: brokerUrl(), topic, retain: true });
    await sink.write(makeSinkRecords([{ value: "last" }]));
    await sink.close();
    const late = await collect(brokerUrl(), topic);
    await expect.poll(() => late.messages.map((m) => [m.payload.toString(), m.retain])).toEqual([["last", true]]);
    await late.client.endAsync();
  });

  it("fails writes with a retryable error while the broker is down, and publishes again after", {
    timeout: 60_000,
  }, async () => {
    const { url } = ownBroker.endpoint();
    const topic = uniqueName("recover");
    const sink = await openSink({ brokerUrl: url, topic, qos: 1, publishTimeoutMs: 2_000 });
    await sink.write(makeSinkRecords([{ value: "before" }]));
    await ownBroker.kill();
    await expect
      .poll(
        () =>
          sink.write(makeSinkRecords([{ value: "during" }])).then(
            () => "written",
            (e: ConnectorError) => `${e.code} ${e.retryable}`,
          ),
        {
          timeout: 10_000,
        },
      )
      .toBe("CONNECTION_FAILED true");
    await ownBroker.start();
    const subscriber = await collect(url, topic);
    await expect
      .poll(
        () =>
          sink.write(makeSinkRecords([{ value: "after" }])).then(
            () => "written",
            (e: Error) => e.message,
          ),
        {
          timeout: 30_000,
          interval: 300,
        },
      )
      .toBe("written");
    await sink.close();
    await expect.poll(() => subscriber.messages.map((m) => m.payload.toString())).toContain("after");
    await subscriber.client.endAsync();
  });
});
