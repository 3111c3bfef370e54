import { join } from "node:path";
import { pulsarEndpoints, uniqueName } from "@pulsar-connect/test-support";
import { exited, type SourceProcessSettings, startSourceProcess, storedIds } from "@pulsar-connect/testkit";
import { expect, it } from "vitest";
import { freePort, WebhookClient } from "./webhook-client.ts";

const pulsar = pulsarEndpoints();

// describeSourceKill covers ATLEAST_ONCE; this runs the testkit's source process at ATMOST_ONCE.
it("stores no request twice when its process is SIGKILLed mid-stream (ATMOST_ONCE)", { timeout: 240_000 }, async () => {
  const total = 1000;
  const port = await freePort();
  const topic = `persistent://public/default/${uniqueName("http-source-atmost")}`;
  const settings: SourceProcessSettings = {
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
  const first = startSourceProcess({ ...settings, killAtSend: 300 });
  const limit = setTimeout(() => first.kill("SIGTERM"), 120_000);
  expect(await exited(first), "the first process dies by SIGKILL at its kill point").toEqual({
    code: null,
    signal: "SIGKILL",
  });
  clearTimeout(limit);
  const answeredAtKill = sender.accepted.size;
  expect(answeredAtKill).toBeLessThan(total);
  const second = startSourceProcess(settings);
  try {
    await expect.poll(() => sender.done, { timeout: 150_000, interval: 250 }).toBe(true);
  } finally {
    second.kill("SIGTERM");
    await exited(second);
  }
  const { seen } = await storedIds(pulsar, topic);
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
