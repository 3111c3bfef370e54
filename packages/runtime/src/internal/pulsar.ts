// The part of @pulsar-connect/pulsar-client the runtime uses, written structurally so the runtime can be
// exercised against the real client and, where a broker is not the point of a test, a small stand-in.

export interface MessageIdLike {
  readonly ledgerId: bigint;
  readonly entryId: bigint;
  readonly partition: number;
  readonly batchIndex: number;
  serialize(): Uint8Array;
  toString(): string;
}

export interface MessageLike {
  readonly data: Uint8Array;
  readonly key?: string | undefined;
  readonly properties: Record<string, string>;
  readonly eventTime?: number | undefined;
  readonly publishTime: number;
  readonly messageId: MessageIdLike;
  readonly redeliveryCount: number;
  readonly topic: string;
}

export interface ConsumerLike {
  receive(): Promise<MessageLike>;
  acknowledge(message: MessageLike): Promise<void>;
  acknowledgeCumulative(message: MessageLike): Promise<void>;
  negativeAcknowledge(message: MessageLike): void;
  close(): Promise<void>;
}

export interface ProducerLike {
  readonly lastSequenceId: bigint;
  send(message: {
    value: Uint8Array;
    key?: string;
    properties?: Record<string, string>;
    eventTime?: number;
    sequenceId?: bigint;
  }): Promise<unknown>;
  flush(): Promise<void>;
  close(): Promise<void>;
}

export interface ClientLike {
  subscribe(options: Record<string, unknown>): Promise<ConsumerLike>;
  createProducer(options: Record<string, unknown>): Promise<ProducerLike>;
}

export interface AdminLike {
  /** Fetches `path` (relative to the admin URL, e.g. `/admin/v2/...`) and returns parsed JSON, or undefined on 404. */
  request?(method: string, path: string, body?: unknown): Promise<unknown>;
}

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

/** `persistent://t/ns/topic` -> `persistent/t/ns/topic` for admin paths. */
export function topicPath(topic: string): string {
  const match = /^(persistent|non-persistent):\/\/(.+)$/.exec(topic);
  return match ? `${match[1]}/${match[2]}` : `persistent/public/default/${topic}`;
}
