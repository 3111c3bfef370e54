import { ConnectorError, loadConfig } from "@pulsar-connect/core";
import { privateServer } from "@pulsar-connect/services/private-server";
import { uniqueName } from "@pulsar-connect/test-support";
import { createStream, natsServers, streamContents, withNats } from "@pulsar-connect/test-support/nats";
import { createSinkContext, makeSinkRecords } from "@pulsar-connect/testkit";
import { describe, expect, it } from "vitest";
import definition from "../src/index.ts";

const ownNats = privateServer("nats");

async function openSink(configs: Record<string, unknown>) {
  return definition.open(loadConfig(definition.config, configs), createSinkContext({ name: "nats-sink-test" }).context);
}

describe("NATS sink against a real server", () => {
  it("publishes to JetStream with the Pulsar message id: a redelivered batch is stored once", async () => {
    const stream = uniqueName("dedup");
    await createStream(natsServers(), stream, `${stream}.in`);
    const sink = await openSink({ servers: natsServers(), subject: `${stream}.in` });
    const records = makeSinkRecords([{ value: "a", key: "k1", properties: { origin: "t" } }, { value: "b" }]);
    expect(await sink.write(records)).toBeUndefined();
    expect(await sink.write(records)).toBeUndefined();
    await sink.close();
    const stored = await streamContents(natsServers(), stream);
    expect(stored.map((m) => m.data)).toEqual(["a", "b"]);
    expect(stored[0]?.headers).toMatchObject({ origin: "t", "Pulsar-Key": "k1", "Nats-Msg-Id": records[0]?.messageId });
  });

  it("publishes core NATS messages to live subscribers", async () => {
    const subject = uniqueName("core");
    await withNats(natsServers(), async (connection) => {
      const subscription = connection.subscribe(subject, { max: 2 });
      await connection.flush();
      const sink = await openSink({ servers: natsServers(), subject, mode: "core" });
      await sink.write(makeSinkRecords([{ value: "x" }, { value: "y" }]));
      await sink.close();
      const got: string[] = [];
      for await (const message of subscription) got.push(message.string());
      expect(got).toEqual(["x", "y"]);
    });
  });

  it("says that no stream captures the subject", async () => {
    const sink = await openSink({ servers: natsServers(), subject: uniqueName("nostream") });
    const error = await sink.write(makeSinkRecords([{ value: "v" }])).catch((e: unknown) => e);
    await sink.close();
    expect(error).toBeInstanceOf(ConnectorError);
    expect((error as Error).message).toMatch(/no JetStream stream captures subject/);
  });

  it("fails writes with a retryable error while the server is down, and publishes again after", {
    timeout: 60_000,
  }, async () => {
    const { servers } = ownNats.endpoint();
    const stream = uniqueName("recover");
    await createStream(servers, stream, `${stream}.in`);
    const sink = await openSink({ servers, subject: `${stream}.in` });
    await sink.write(makeSinkRecords([{ value: "before" }]));
    await ownNats.kill();
    const down = await sink
      .write(makeSinkRecords([{ value: "during" }], { firstEntryId: 1n }))
      .catch((e: unknown) => e);
    expect(down).toMatchObject({ code: "CONNECTION_FAILED", retryable: true });
    await ownNats.start();
    await expect
      .poll(
        () =>
          sink.write(makeSinkRecords([{ value: "after" }], { firstEntryId: 2n })).then(
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
    expect((await streamContents(servers, stream)).map((m) => m.data)).toEqual(["before", "after"]);
    // "during" failed: the client must not have sent it later on its own (the runtime decides what is retried).
  });
});
