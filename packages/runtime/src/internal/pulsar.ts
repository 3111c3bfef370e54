// The part of @pulsar-connect/pulsar-client the runtime uses, including its admin client.

import {
  type Consumer,
  type Message,
  type Producer,
  PulsarAdmin,
  type PulsarClient,
} from "@pulsar-connect/pulsar-client";
import { parseTopic } from "../config.ts";

export type MessageLike = Message;
export type ConsumerLike = Consumer;
export type ProducerLike = Producer;
export type ClientLike = Pick<PulsarClient, "subscribe" | "createProducer"> & Partial<Pick<PulsarClient, "getSchema">>;

/** The Pulsar endpoints an instance talks to. */
export interface PulsarConnections {
  client: ClientLike;
  /** Base URL of the broker's admin REST API, e.g. `http://127.0.0.1:8080`. */
  adminUrl: string;
  /** Token for the admin REST API; a function is asked before each call (OAuth2). */
  authToken?: string | (() => Promise<string>) | undefined;
}

const admins: WeakMap<PulsarConnections, PulsarAdmin> = new WeakMap();

/** The admin client of a set of Pulsar endpoints (one per set). */
export function adminOf(pulsar: PulsarConnections): PulsarAdmin {
  let admin = admins.get(pulsar);
  if (!admin) {
    admin = new PulsarAdmin({
      serviceUrl: pulsar.adminUrl,
      ...(pulsar.authToken ? { authToken: pulsar.authToken } : {}),
    });
    admins.set(pulsar, admin);
  }
  return admin;
}

/**
 * `persistent://t/ns/topic` -> `persistent/t/ns/topic` for admin paths, every segment URL-encoded so that no
 * character of a name can add a path segment or a query parameter. Throws for a name that is not a topic.
 */
export function topicPath(topic: string): string {
  const parsed = parseTopic(topic);
  if (!parsed) throw new Error(`not a valid topic name: ${JSON.stringify(topic)}`);
  return [parsed.domain, parsed.tenant, parsed.namespace, parsed.local].map(encodeURIComponent).join("/");
}
