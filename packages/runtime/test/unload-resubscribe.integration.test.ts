// A sink instance whose input topic is unloaded at random moments around its start and while it runs (as a cluster
// takeover fences a previous owner by unloading the instance's topics) writes every message published after the last
// unload. Seeded; replay a schedule with UNLOAD_SEED=<seed>.
import { PulsarAdmin, PulsarClient } from "@pulsar-connect/pulsar-client";
import { afterAll, describe, expect, it } from "vitest";
import { seededRandom } from "../../pulsar-client/test/seeded-random.ts";
import type { SinkInstanceStatusData } from "../src/index.ts";
import { memorySinkInstance, uniqueNames } from "./helpers.ts";

const SERVICE_URL = process.env.PULSAR_SERVICE_URL ?? "pulsar://127.0.0.1:6650";
const ADMIN_URL = process.env.PULSAR_ADMIN_URL ?? "http://127.0.0.1:8080";
const SEED = Number(process.env.UNLOAD_SEED ?? Math.floor(Math.random() * 2 ** 31));
const BUDGET_MS = 20_000;
const RECOVERY_MS = 15_000;

const client = new PulsarClient({ serviceUrl: SERVICE_URL });
const admin = new PulsarAdmin({ serviceUrl: ADMIN_URL });
const unique = uniqueNames();
afterAll(() => client.close());

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe("a sink instance and topic unloads", () => {
  console.log(`unload schedule seed ${SEED} (UNLOAD_SEED=${SEED} replays it)`);

  it("writes everything published after the last unload, whenever the unloads happen", async () => {
    const random = seededRandom(SEED);
    const started = Date.now();
    let iteration = 0;
    let unloads = 0;
    while (Date.now() - started < BUDGET_MS) {
      iteration += 1;
      const name = unique("unload-sink");
      const topic = `persistent://public/default/${name}`;
      const producer = await client.createProducer({ topic, batchingEnabled: false, sendTimeoutMs: 0 });
      const { written, instance, config } = memorySinkInstance({ name, topic, client, adminUrl: ADMIN_URL });
      // The instance comes back to its subscription, as after a move to another worker.
      await (await client.subscribe({ topic, subscription: config.sourceSubscriptionName })).close();
      const schedule: string[] = [];
      const unloading: Array<Promise<unknown>> = [];
      const unload = (moment: string) => {
        schedule.push(`unload ${moment}`);
        unloading.push(
          admin.unloadTopic(topic).then(
            () => {
              unloads += 1;
            },
            (error: unknown) => schedule.push(`(refused: ${(error as Error).message})`),
          ),
        );
      };
      const what = () => `seed ${SEED}, iteration ${iteration}: ${schedule.join("; ")}`;
      try {
        const delay = Math.floor(random() * 31);
        const starting = instance.start();
        await sleep(delay);
        unload(`${delay} ms after start`);
        await starting;
        const flowing = 3 + Math.floor(random() * 10);
        for (let i = 0; i < flowing; i += 1) {
          if (random() < 0.2) unload(`before message ${i}`);
          await producer.send({ value: Buffer.from(`flow-${i}`), key: `flow-${i}` });
          if (random() < 0.3) await sleep(Math.floor(random() * 10));
        }
        await Promise.allSettled(unloading);
        const after = Array.from({ length: 5 }, (_, i) => `after-${i}`);
        for (const key of after) await producer.send({ value: Buffer.from(key), key });
        const deadline = Date.now() + RECOVERY_MS;
        const keys = () => new Set(written.map((record) => record.key));
        while (after.some((key) => !keys().has(key)) && Date.now() < deadline) await sleep(50);
        const status = instance.status() as SinkInstanceStatusData;
        expect({ running: status.running, missing: after.filter((key) => !keys().has(key)) }, what()).toEqual({
          running: true,
          missing: [],
        });
      } finally {
        await instance.stop();
        await producer.close();
      }
    }
    console.log(`sink: seed ${SEED}, ${iteration} iterations, ${unloads} unloads`);
    expect(iteration).toBeGreaterThan(3);
  });
});
