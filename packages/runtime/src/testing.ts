// Fault injection for crash tests of the runtime and of connectors (`@pulsar-connect/runtime/testing`). Nothing in
// the runtime itself uses it.
import { writeSync } from "node:fs";
import type { Producer, PulsarClient } from "@pulsar-connect/pulsar-client";

/** The part of a Pulsar client that an instance uses. */
export type InstanceClient = Pick<PulsarClient, "subscribe" | "createProducer" | "getSchema">;

/**
 * The client, except that from send number `killAtSend` on (counted over all its producers) the process SIGKILLs
 * itself while that send's receipt is pending: the record was handed to Pulsar and may or may not be stored.
 */
export function killingClient(client: PulsarClient, killAtSend: number): InstanceClient {
  const counter = { sends: 0 };
  return {
    subscribe: client.subscribe.bind(client),
    getSchema: client.getSchema.bind(client),
    createProducer: async (options) => killingProducer(await client.createProducer(options), killAtSend, counter),
  };
}

function killingProducer(producer: Producer, killAtSend: number, counter: { sends: number }): Producer {
  const send: Producer["send"] = (message) => {
    counter.sends += 1;
    const receipt = producer.send(message);
    if (counter.sends >= killAtSend) {
      let settled = false;
      receipt.then(
        () => (settled = true),
        () => (settled = true),
      );
      // One turn of the event loop later the message sits in the producer's open batch or on the wire; should its
      // receipt already be in, the next send becomes the kill point.
      setImmediate(() => {
        if (settled) return;
        writeSync(1, `killing at send ${counter.sends} with its receipt pending\n`);
        process.kill(process.pid, "SIGKILL");
      });
    }
    return receipt;
  };
  return new Proxy(producer, {
    get: (target, property) => (property === "send" ? send : Reflect.get(target, property, target)),
  });
}
