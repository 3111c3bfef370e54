import { jetstream } from "@nats-io/jetstream";
import { loadConfig, type SourceInstance, type SourceRecord } from "@pulsar-connect/core";
import { privateServer } from "@pulsar-connect/services/private-server";
import { uniqueName } from "@pulsar-connect/test-support";
import { createStream, natsServers, withNats } from "@pulsar-connect/test-support/nats";
import { createSourceContext } from "@pulsar-connect/testkit";
import { describe, expect, it } from "vitest";
import definition from "../src/index.ts";

const ownNats = privateServer("nats");

async function open(configs: Record<string, unknown>): Promise<SourceInstance> {
  return definition.open(
    loadConfig(definition.config, configs),
    createSourceContext({ name: "nats-source-test" }).context,
  );
}

async function readAtLeast(source: SourceInstance, count: number, timeout = 20_000): Promise<SourceRecord[]> {
  const records: SourceRecord[] = [];
  const signal = new AbortController().signal;
  await expect
    .poll(
      async () => {
        records.push(...((await source.read({ maxRecords: 100, signal }).catch(() => [])) ?? []));
        return records.length;
      },
      { timeout, interval: 10 },
    )
    .toBeGreaterThanOrEqual(count);
  return records;
}

const texts = (records: SourceRecord[]) => records.map((r) => new TextDecoder().decode(r.value as Uint8Array));

async function publish(servers: string, subject: string, bodies: string[]): Promise<void> {
  await withNats(servers, async (connection) => {
    const js = jetstream(connection);
    for (const body of bodies) await js.publish(subject, body);
  });
}

describe("NATS source against a real server", () => {
  it("redelivers what was read and never acked (a crash) after ackWaitMs, and only that", {
    timeout: 60_000,
  }, async () => {
    const stream = uniqueName("redeliver");
    await createStream(natsServers(), stream, `${stream}.>`);
    await publish(natsServers(), `${stream}.a`, ["1", "2", "3"]);
    const configs = { servers: natsServers(), stream, durableName: "d", ackWaitMs: 1_000, subject: `${stream}.a` };
    const first = await open(configs);
    const read = await readAtLeast(first, 3);
    expect(texts(read)).toEqual(["1", "2", "3"]);
    // Without `ordered` no sequence: the runtime refuses EFFECTIVELY_ONCE instead of dropping redeliveries.
    expect(read.map((r) => r.sequence)).toEqual([undefined, undefined, undefined]);
    expect(read[0]?.properties).toMatchObject({ "nats.subject": `${stream}.a` });
    await read[0]?.ack?.();
    await read[1]?.fail?.(new Error("send failed"));
    // 3 is never settled: the instance died.
    await first.close();
    const second = await open(configs);
    const again: SourceRecord[] = [];
    const signal = new AbortController().signal;
    await expect
      .poll(
        async () => {
          again.push(...((await second.read({ maxRecords: 100, signal }).catch(() => [])) ?? []));
          return [...new Set(texts(again))].sort();
        },
        { timeout: 20_000, interval: 10 },
      )
      .toEqual(["2", "3"]);
    // 1 was acked: it never comes again (2 may come twice: nak'ed, then unacked at the close).
    expect(texts(again)).not.toContain("1");
    for (const record of again) await record.ack?.();
    await second.close();
  });

  it("with ordered, a new opening starts again right after the ack floor, in stream order", async () => {
    const stream = uniqueName("ordered");
    await createStream(natsServers(), stream, `${stream}.in`);
    await publish(natsServers(), `${stream}.in`, ["1", "2", "3", "4"]);
    const configs = { servers: natsServers(), stream, durableName: "d", ordered: true, ackWaitMs: 60_000 };
    const first = await open(configs);
    const read = await readAtLeast(first, 4);
    expect(read.map((r) => r.sequence)).toEqual([1n, 2n, 3n, 4n]);
    expect(read[0]?.partitionId).toBe(`nats:${stream}`);
    await read[0]?.ack?.();
    await read[2]?.ack?.();
    await first.close();
    // 2 and 4 were left unacked; 3 (acked beyond the floor) comes again too, for the deduplication to drop.
    const second = await open(configs);
    const again = await readAtLeast(second, 3);
    expect(again.map((r) => r.sequence)).toEqual([2n, 3n, 4n]);
    for (const record of again) await record.ack?.();
    await second.close();
  });

  it("reads core NATS messages with a queue group", async () => {
    const subject = uniqueName("core");
    const source = await open({ servers: natsServers(), mode: "core", subject, queueGroup: "g" });
    await withNats(natsServers(), async (connection) => {
      connection.publish(subject, "x");
      connection.publish(subject, "y");
      await connection.flush();
    });
    expect(texts(await readAtLeast(source, 2))).toEqual(["x", "y"]);
    await source.close();
  });

  it("refuses a stream that does not exist, without retrying", async () => {
    const error = await open({ servers: natsServers(), stream: uniqueName("absent"), durableName: "d" }).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: "NOT_FOUND", retryable: false });
  });

  it("fails reads with a retryable error while the server is down, and resumes after", {
    timeout: 60_000,
  }, async () => {
    const { servers } = ownNats.endpoint();
    const stream = uniqueName("recover");
    await createStream(servers, stream, `${stream}.in`);
    await publish(servers, `${stream}.in`, ["before"]);
    const source = await open({ servers, stream, durableName: "d" });
    const [before] = await readAtLeast(source, 1);
    await before?.ack?.();
    await ownNats.kill();
    const down = await source.read({ maxRecords: 1, signal: new AbortController().signal }).catch((e: unknown) => e);
    expect(down).toMatchObject({ code: "CONNECTION_FAILED", retryable: true });
    expect((down as Error).message).toContain(servers);
    await ownNats.start();
    await expect
      .poll(
        () =>
          publish(servers, `${stream}.in`, ["after"]).then(
            () => true,
            () => false,
          ),
        { timeout: 20_000 },
      )
      .toBe(true);
    const after = await readAtLeast(source, 1, 30_000);
    expect(texts(after)).toContain("after");
    await source.close();
  });
});
