import { type ChildProcess, spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { PulsarClient } from "@pulsar-connect/pulsar-client";
import { expect, it } from "vitest";
import { freePort, pulsarEndpoints, uniqueName, WebhookClient } from "./webhook-client.ts";

const pulsar = pulsarEndpoints();
// describeSourceKill covers ATLEAST_ONCE; this runs the testkit's source process at ATMOST_ONCE.
const sourceProcess = join(
  dirname(createRequire(import.meta.url).resolve("@pulsar-connect/testkit/package.json")),
  "src/source-process.ts",
);

function start(settings: Record<string, unknown>): ChildProcess {
  return spawn(process.execPath, ["--conditions=@pulsar-connect/source", sourceProcess], {
    env: { ...process.env, PC_SOURCE_PROCESS: JSON.stringify(settings) },
    stdio: ["ignore", "ignore", "inherit"],
  });
}

const exited = (child: ChildProcess) =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve({ code: child.exitCode, signal: child.signalCode })
    : new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));

/** How often each id is in the topic: reads as many messages as the broker says it stored. */
async function idsIn(topic: string): Promise<Map<number, number>> {
  const response = await fetch(`${pulsar.adminUrl}/admin/v2/persistent/${topic.replace("persistent://", "")}/stats`);
  const stored = ((await response.json()) as { msgInCounter?: number }).msgInCounter ?? 0;
  const client = new PulsarClient({ serviceUrl: pulsar.serviceUrl });
  try {
    const consumer = await client.subscribe({
      topic,
      subscription: "verify",
      subscriptionType: "Exclusive",
      subscriptionInitialPosition: "Earliest",
    });
    const seen = new Map<number, number>();
    for (let received = 0; received < stored; received += 1) {
      const message = await consumer.receive();
      const { id } = JSON.parse(Buffer.from(message.data).toString()) as { id: number };
      seen.set(id, (seen.get(id) ?? 0) + 1);
    }
    await consumer.close();
    return seen;
  } finally {
    await client.close();
  }
}

it("stores no request twice when its process is SIGKILLed mid-stream (ATMOST_ONCE)", { timeout: 240_000 }, async () => {
  const total = 1000;
  const port = await freePort();
  const topic = `persistent://public/default/${uniqueName("http-source-atmost")}`;
  const settings = {
    connectorModule: join(import.meta.dirname, "../src/index.ts"),
    configs: { port, path: "/hook", bodyFormat: "json" },
    secrets: {},
    serviceUrl: pulsar.serviceUrl,
    adminUrl: pulsar.adminUrl,
    topic,
    name: uniqueName("atmost"),
    guarantee: "ATMOST_ONCE",
  };
  const sender = new WebhookClient(`http://127.0.0.1:${port}/hook`, { concurrency: 32 });
  sender.post(Array.from({ length: total }, (_, id) => id));
  const first = start({ ...settings, killAtSend: 300 });
  const limit = setTimeout(() => first.kill("SIGTERM"), 120_000);
  expect(await exited(first), "the first process dies by SIGKILL at its kill point").toEqual({
    code: null,
    signal: "SIGKILL",
  });
  clearTimeout(limit);
  const answeredAtKill = sender.accepted.size;
  expect(answeredAtKill).toBeLessThan(total);
  const second = start(settings);
  try {
    await expect.poll(() => sender.done, { timeout: 150_000, interval: 250 }).toBe(true);
  } finally {
    second.kill("SIGTERM");
    await exited(second);
  }
  const seen = await idsIn(topic);
  expect(
    [...seen.entries()].filter(([, times]) => times > 1),
    "requests stored twice",
  ).toEqual([]);
  // Answered before the send: what the first process had answered and not stored yet is lost, nothing else.
  const missing = Array.from({ length: total }, (_, id) => id).filter((id) => !seen.has(id));
  expect(missing.length).toBeLessThanOrEqual(answeredAtKill);
  process.stdout.write(
    `http ATMOST_ONCE: ${answeredAtKill} answered at the kill, ${missing.length} lost of ${total}\n`,
  );
});
