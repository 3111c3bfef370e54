import type { Authentication } from "./auth.ts";
import { Consumer, type ConsumerOptions, createReader, type Reader, type ReaderOptions } from "./consumer.ts";
import { PulsarClientError } from "./errors.ts";
import type { AuthProvider, TlsOptions } from "./internal/connection.ts";
import { ConnectionPool } from "./internal/pool.ts";
import { CommandType } from "./internal/schema.ts";
import { parseServiceUrl } from "./internal/service-url.ts";
import { parseTopicName } from "./internal/topic-name.ts";
import { type ClientContext, Producer, type ProducerOptions } from "./producer.ts";
import { schemaFromPb, type TopicSchema } from "./schema-info.ts";
import { type Transaction, TransactionCoordinatorClient } from "./transaction.ts";

/** Schema versions kept per client (each a small definition). */
const SCHEMA_CACHE_SIZE = 1000;

export interface PulsarClientOptions {
  /** pulsar://host:port or pulsar+ssl://host:port (comma-separated hosts allowed). */
  serviceUrl: string;
  /** JWT for token authentication, or a function returning a fresh one (called on connect and on auth refresh). */
  authToken?: string | (() => Promise<string>);
  /** Token, TLS client certificate or OAuth2 (see `authenticationFromPlugin`); replaces `authToken`. */
  authentication?: Authentication;
  /** Timeout of each request to the broker and of creating producers/consumers. Default 30000. */
  operationTimeoutMs?: number;
  /** TCP/TLS connect + handshake timeout. Default 10000. */
  connectionTimeoutMs?: number;
  /** Interval of keepalive pings; a connection silent for two intervals is dropped. Default 30000. */
  keepAliveIntervalMs?: number;
  tls?: TlsOptions;
}

export type { TlsOptions };

export class PulsarClient {
  private readonly pool: ConnectionPool;
  private readonly ctx: ClientContext;
  private readonly closables = new Set<{ close(): Promise<void> }>();
  private nextResourceId = 0;
  private isClosed = false;
  private tc: TransactionCoordinatorClient | undefined;
  private readonly operationTimeoutMs: number;

  constructor(options: PulsarClientOptions) {
    if (!options || typeof options !== "object") throw new PulsarClientError("INVALID_CONFIG", "options are required");
    const addresses = parseServiceUrl(options.serviceUrl);
    this.operationTimeoutMs = options.operationTimeoutMs ?? 30_000;
    if (options.authentication && options.authToken !== undefined) {
      throw new PulsarClientError("INVALID_CONFIG", "give authToken or authentication, not both");
    }
    let auth: AuthProvider | undefined;
    const token = options.authToken;
    const authentication = options.authentication;
    if (authentication) auth = async () => ({ method: authentication.method, data: await authentication.authData() });
    else if (typeof token === "string") auth = async () => ({ method: "token", data: Buffer.from(token, "utf8") });
    else if (typeof token === "function")
      auth = async () => ({ method: "token", data: Buffer.from(await token(), "utf8") });
    const certificate = authentication?.tlsCertificate;
    const tls = certificate ? { ...options.tls, cert: certificate.cert, key: certificate.key } : options.tls;
    this.pool = new ConnectionPool(addresses, {
      ...(auth ? { auth } : {}),
      ...(tls ? { tls } : {}),
      connectionTimeoutMs: options.connectionTimeoutMs ?? 10_000,
      operationTimeoutMs: this.operationTimeoutMs,
      keepAliveIntervalMs: options.keepAliveIntervalMs ?? 30_000,
    });
    const self = this;
    this.ctx = {
      pool: this.pool,
      operationTimeoutMs: this.operationTimeoutMs,
      nextId: () => BigInt(this.nextResourceId++),
      track: (c) => this.closables.add(c),
      untrack: (c) => this.closables.delete(c),
      partitions: (t) => this.withRetry(() => this.pool.partitionedMetadata(t)),
      listTopics: (ns) => this.getTopicsOfNamespace(ns),
      get closed() {
        return self.isClosed;
      },
    };
  }

  private ensureOpen(): void {
    if (this.isClosed) throw new PulsarClientError("CLOSED", "client is closed");
  }

  /** Number of partitions of a topic (0 = not partitioned). */
  async getPartitionsForTopic(topic: string): Promise<number> {
    this.ensureOpen();
    return this.withRetry(() => this.pool.partitionedMetadata(parseTopicName(topic).full));
  }

  /** Retries retryable failures (connection refused, service not ready) until the operation timeout. */
  private async withRetry<T>(fn: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.operationTimeoutMs;
    let delay = 100;
    for (;;) {
      try {
        return await fn();
      } catch (err) {
        const e =
          err instanceof PulsarClientError ? err : new PulsarClientError("BROKER_ERROR", String(err), { cause: err });
        if (!e.retryable || this.isClosed || Date.now() + delay > deadline) throw e;
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 2000);
      }
    }
  }

  async createProducer(options: ProducerOptions): Promise<Producer> {
    this.ensureOpen();
    const topic = parseTopicName(options?.topic);
    const n = topic.partition >= 0 ? 0 : await this.withRetry(() => this.pool.partitionedMetadata(topic.full));
    return Producer.create(this.ctx, topic.full, n, options);
  }

  async subscribe(options: ConsumerOptions): Promise<Consumer> {
    this.ensureOpen();
    return Consumer.create(this.ctx, (t) => this.resolveTopics(t), options);
  }

  async createReader(options: ReaderOptions): Promise<Reader> {
    this.ensureOpen();
    return createReader(this.ctx, (t) => this.resolveTopics(t), options);
  }

  /** Expands topic names into partition topics. */
  private async resolveTopics(topics: string[]): Promise<Array<{ topic: string; partition: number; base: string }>> {
    const out: Array<{ topic: string; partition: number; base: string }> = [];
    for (const t of topics) {
      const name = parseTopicName(t);
      const n = name.partition >= 0 ? 0 : await this.withRetry(() => this.pool.partitionedMetadata(name.full));
      if (n > 0) {
        for (let i = 0; i < n; i++) out.push({ topic: `${name.full}-partition-${i}`, partition: i, base: name.full });
      } else {
        out.push({ topic: name.full, partition: name.partition, base: name.full });
      }
    }
    return out;
  }

  /** Topics of a namespace (persistent ones), e.g. for pattern subscriptions. */
  async getTopicsOfNamespace(namespace: string): Promise<string[]> {
    this.ensureOpen();
    return this.withRetry(async () => {
      const conn = await this.pool.serviceConnection();
      const requestId = conn.newRequestId();
      const resp = await conn.request(
        { type: CommandType.GET_TOPICS_OF_NAMESPACE, getTopicsOfNamespace: { requestId, namespace, mode: 0 } },
        requestId,
        `topics of ${namespace}`,
      );
      return resp.getTopicsOfNamespaceResponse?.topics ?? [];
    });
  }

  /**
   * Schema of a topic, latest or at a given version (8-byte version as returned in messages, e.g.
   * `message.schemaVersion`). A version never changes, so versioned answers are cached: decoding each message with
   * the schema it was written with costs one broker round trip per version.
   */
  async getSchema(topic: string, version?: Uint8Array | bigint): Promise<TopicSchema | undefined> {
    this.ensureOpen();
    const name = parseTopicName(topic).full;
    let v: Buffer | undefined;
    if (typeof version === "bigint") {
      v = Buffer.alloc(8);
      v.writeBigInt64BE(version);
    } else if (version) v = Buffer.from(version);
    if (!v) return this.fetchSchema(name, undefined);
    // Partitions share their topic's schema.
    const key = `${name.replace(/-partition-\d+$/, "")}@${v.toString("hex")}`;
    let cached = this.schemaVersions.get(key);
    if (!cached) {
      cached = this.fetchSchema(name, v);
      if (this.schemaVersions.size >= SCHEMA_CACHE_SIZE) {
        this.schemaVersions.delete(this.schemaVersions.keys().next().value!);
      }
      this.schemaVersions.set(key, cached);
      cached.then(
        (schema) => {
          if (!schema) this.schemaVersions.delete(key);
        },
        () => this.schemaVersions.delete(key),
      );
    }
    return cached;
  }

  private readonly schemaVersions = new Map<string, Promise<TopicSchema | undefined>>();

  private fetchSchema(name: string, v: Buffer | undefined): Promise<TopicSchema | undefined> {
    return this.withRetry(async () => {
      const conn = await this.pool.connectionForTopic(name);
      const requestId = conn.newRequestId();
      const resp = await conn.request(
        { type: CommandType.GET_SCHEMA, getSchema: { requestId, topic: name, ...(v ? { schemaVersion: v } : {}) } },
        requestId,
        `get schema of ${name}`,
      );
      const r = resp.getSchemaResponse!;
      if (r.errorCode !== undefined) {
        if (r.errorCode === 11 || /not found/i.test(r.errorMessage ?? "")) return undefined;
        throw new PulsarClientError("BROKER_ERROR", `get schema of ${name}: ${r.errorMessage ?? r.errorCode}`);
      }
      return schemaFromPb(r.schema, r.schemaVersion);
    });
  }

  /** Starts a transaction (the broker must have the transaction coordinator enabled). */
  async newTransaction(options: { timeoutMs?: number } = {}): Promise<Transaction> {
    this.ensureOpen();
    this.tc ??= new TransactionCoordinatorClient(this.pool, this.operationTimeoutMs);
    const tc = this.tc;
    return this.withRetry(() => tc.newTransaction(options.timeoutMs ?? 60_000));
  }

  /** @internal number of broker connections opened so far */
  get connectionsOpened(): number {
    return this.pool.opened;
  }

  /** @internal test hook: abruptly drop all TCP connections (simulates a network failure). */
  async dropConnectionsForTest(): Promise<number> {
    return this.pool.dropAllConnectionsForTest();
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    const all = [...this.closables];
    await Promise.all(all.map((c) => c.close().catch(() => undefined)));
    this.isClosed = true;
    await this.pool.close();
  }
}
