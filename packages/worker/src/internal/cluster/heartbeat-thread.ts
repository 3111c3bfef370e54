// The heartbeat thread of a cluster worker: renews the worker's lease from a thread of its own, on a Pulsar
// connection of its own, so that long synchronous work of in-process instances on the main thread does not delay
// heartbeats. It renews only while the main thread says it is alive: a wedged main thread loses the lease.
import { parentPort, workerData } from "node:worker_threads";
import {
  authenticationFromPlugin,
  type Producer,
  PulsarClient,
  tokenAuthentication,
} from "@pulsar-connect/pulsar-client";
import {
  type FromHeartbeatThread,
  type HeartbeatThreadData,
  SHARED_SLOTS,
  sharedNowUs,
  type ToHeartbeatThread,
} from "./heartbeat-thread-protocol.ts";
import { LeaseRenewals } from "./lease-renewals.ts";

const data = workerData as HeartbeatThreadData;
const port = parentPort;
if (!port) throw new Error("the heartbeat thread runs as a worker thread");
const shared = new BigInt64Array(data.shared);
const renewals = new LeaseRenewals(data.timing.ownLeaseMs * 1000);
const authentication = data.auth.token
  ? tokenAuthentication(data.auth.token)
  : authenticationFromPlugin(data.auth.plugin, data.auth.params);
const tls = data.client.tls;
const client = new PulsarClient({
  ...data.client,
  // A Buffer arrives as a plain Uint8Array in a thread.
  ...(tls?.ca ? { tls: { ...tls, ca: Buffer.from(tls.ca as Uint8Array) } } : {}),
  ...(authentication ? { authentication } : {}),
});
let producer: Producer | undefined;
let key = "";
let current = "";
let closed = false;

function post(message: FromHeartbeatThread): void {
  port?.postMessage(message);
}

async function send(value: string): Promise<void> {
  if (!producer) return;
  const sentAt = sharedNowUs();
  await producer.send({ key, value });
  if (renewals.record(Number(sentAt))) Atomics.add(shared, SHARED_SLOTS.lapses, 1n);
  Atomics.store(shared, SHARED_SLOTS.renewedAt, BigInt(renewals.renewedAt()));
}

const mainSilenceUs = BigInt(data.mainSilenceMs * 1000);
let paused = false;
const timer = setInterval(() => {
  if (closed || !current) return;
  const silentUs = sharedNowUs() - Atomics.load(shared, SHARED_SLOTS.mainAliveAt);
  if (silentUs > mainSilenceUs) {
    // Said once per pause; the main thread logs it when it runs again.
    if (!paused) {
      post({
        type: "warn",
        message: `the main event loop did not tick for ${Number(silentUs / 1000n)} ms: the lease is no longer renewed`,
      });
    }
    paused = true;
    return;
  }
  paused = false;
  send(current).catch((error: unknown) => post({ type: "warn", message: (error as Error).message }));
}, data.timing.heartbeatIntervalMs);

async function handle(message: ToHeartbeatThread): Promise<void> {
  switch (message.type) {
    case "update":
      current = message.value;
      return;
    case "open":
      key = message.target.key;
      producer = await client.createProducer({
        topic: message.target.topic,
        batchingEnabled: false,
        sendTimeoutMs: data.timing.leaseMs,
        producerName: message.target.producerName,
      });
      return;
    case "send":
      current = message.value;
      await send(message.value);
      return;
    case "close":
      closed = true;
      clearInterval(timer);
      for (const value of message.last) await producer?.send({ key, value }).catch(() => undefined);
      await producer?.close().catch(() => undefined);
      await client.close().catch(() => undefined);
      return;
  }
}

port.on("message", (message: ToHeartbeatThread) => {
  handle(message).then(
    () => {
      if ("id" in message) post({ type: "done", id: message.id });
    },
    (error: unknown) => {
      if ("id" in message) post({ type: "done", id: message.id, error: (error as Error).message });
    },
  );
});
