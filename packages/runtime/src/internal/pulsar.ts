// The part of @pulsar-connect/pulsar-client the runtime uses, and the admin REST calls it makes.

import type { Consumer, Message, Producer, PulsarClient } from "@pulsar-connect/pulsar-client";
import { parseTopic } from "../config.ts";

export type MessageLike = Message;
export type ConsumerLike = Consumer;
export type ProducerLike = Producer;
export type ClientLike = Pick<PulsarClient, "subscribe" | "createProducer">;

/** The Pulsar endpoints an instance talks to. */
export interface PulsarConnections {
  client: ClientLike;
  /** Base URL of the broker's admin REST API, e.g. `http://127.0.0.1:8080`. */
  adminUrl: string;
  /** Token for the admin REST API. */
  authToken?: string | undefined;
}

/** A JSON request to the broker's admin API; undefined for 404. */
export async function adminRequest(
  pulsar: PulsarConnections,
  method: string,
  path: string,
  body?: unknown,
): Promise<unknown> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (pulsar.authToken) headers.authorization = `Bearer ${pulsar.authToken}`;
  const init: RequestInit = { method, headers, signal: AbortSignal.timeout(30_000) };
  if (body !== undefined) init.body = JSON.stringify(body);
  const response = await fetch(`${pulsar.adminUrl.replace(/\/$/, "")}${path}`, init);
  if (response.status === 404) return undefined;
  const text = await response.text();
  if (!response.ok) {
    throw new Error(`${method} ${path} answered ${response.status}: ${text.slice(0, 300)}`);
  }
  return text ? (JSON.parse(text) as unknown) : undefined;
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
