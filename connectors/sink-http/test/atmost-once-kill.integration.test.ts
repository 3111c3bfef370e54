import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { createInstance, resolveSinkConfig } from "@pulsar-connect/runtime";
import { pulsarEndpoints, testAdmin, uniqueName } from "@pulsar-connect/test-support";
import { exited } from "@pulsar-connect/testkit";
import { afterAll, expect, it } from "vitest";
import definition from "../src/index.ts";
import { Receiver } from "./receiver.ts";

const receiver = await Receiver.start();
const pulsar = pulsarEndpoints();
afterAll(() => receiver.close());

// The conformance suite kills sinks at ATLEAST_ONCE; this runs the same sink process of the testkit at ATMOST_ONCE.
const sinkProcess = join(
  dirname(createRequire(import.meta.url).resolve("@pulsar-connect/testkit/package.json")),
  "src/sink-process.ts",
);

const idsAt = (path: string) =>
  receiver.accepted(path).map((request) => (JSON.parse(request.body.toString()) as { id: number }).id);

/** Backlog of the topic's one subscription (the sink's). */
async function backlog(topic: string): Promise<number> {
  const stats = (await testAdmin().getTopicStats(topic)) as {
    subscriptions?: Record<string, { msgBacklog?: number }>;
  };
  const subscriptions = Object.values(stats.subscriptions ?? {});
  return subscriptions.length === 1 ? (subscriptions[0]?.msgBacklog ?? -1) : -1;
}

it("never POSTs a record twice when its process is SIGKILLed mid-stream (ATMOST_ONCE)", {
  timeout: 180_000,
}, async () => {
  const count = 300;
  const path = `/${uniqueName("atmost")}`;
  const topic = `persistent://public/default/${uniqueName("http-atmost")}`;
  const subscription = uniqueName("atmost");
  const configs = { url: `${receiver.url}${path}` };
  const client = new PulsarClient({ serviceUrl: pulsar.serviceUrl });
  try {
    const producer = await client.createProducer({ topic, batchingEnabled: false });
    await Promise.all(
      Array.from({ length: count }, (_, id) => producer.send({ value: Buffer.from(JSON.stringify({ id })) })),
    );
    await producer.close();
    const child = spawn(process.execPath, ["--conditions=@pulsar-connect/source", sinkProcess], {
      env: {
        ...process.env,
        PC_SINK_PROCESS: JSON.stringify({
          connectorModule: join(import.meta.dirname, "../src/index.ts"),
          configs,
          secrets: {},
          serviceUrl: pulsar.serviceUrl,
          adminUrl: pulsar.adminUrl,
          topic,
          subscription,
          guarantee: "ATMOST_ONCE",
          batchSize: 40,
          killAfterWrite: 2,
        }),
      },
      stdio: ["ignore", "ignore", "inherit"],
    });
    const limit = setTimeout(() => child.kill("SIGTERM"), 90_000);
    const exit = await exited(child);
    clearTimeout(limit);
    expect(exit, "the first instance dies by SIGKILL at its kill point").toEqual({ code: null, signal: "SIGKILL" });
    const atKill = idsAt(path).length;
    expect(atKill).toBeGreaterThan(0);
    expect(atKill).toBeLessThan(count);

    const resolved = resolveSinkConfig({
      name: subscription,
      archive: "builtin://http",
      inputs: [topic],
      sourceSubscriptionPosition: "Earliest",
      processingGuarantees: "ATMOST_ONCE",
      configs,
    });
    if (!resolved.ok) throw new Error(JSON.stringify(resolved.issues));
    const survivor = createInstance({
      kind: "sink",
      config: resolved.value,
      definition,
      instanceId: 0,
      pulsar: { client, adminUrl: pulsar.adminUrl },
    });
    await survivor.start();
    await expect.poll(() => backlog(topic), { timeout: 120_000, interval: 500 }).toBe(0);
    await expect.poll(() => idsAt(path).length, { timeout: 10_000, interval: 200 }).toBeGreaterThan(atKill);
    await survivor.stop();
    const ids = idsAt(path);
    expect(ids.length - new Set(ids).size, "records POSTed twice").toBe(0);
    // What the first process had acknowledged and not written yet is lost: at most the batches it had received.
    expect(ids.length).toBeGreaterThan(count - 3 * 40);
  } finally {
    await client.close();
  }
});
