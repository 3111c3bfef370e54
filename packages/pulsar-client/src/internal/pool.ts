import { PulsarClientError } from "../errors.ts";
import { type AuthProvider, Connection, type TlsOptions } from "./connection.ts";
import { serverError } from "./errors-map.ts";
import { CommandType } from "./schema.ts";
import { type BrokerAddress, parseBrokerUrl } from "./service-url.ts";

export interface PoolOptions {
  auth?: AuthProvider;
  tls?: TlsOptions;
  connectionTimeoutMs: number;
  operationTimeoutMs: number;
  keepAliveIntervalMs: number;
}

export interface LookupResult {
  logicalUrl: string;
  physical: BrokerAddress;
  proxied: boolean;
}

const MAX_REDIRECTS = 20;

/** Connections shared per (logical broker, physical address), plus binary lookups. */
export class ConnectionPool {
  private readonly connections = new Map<string, Promise<Connection>>();
  private closed = false;
  private serviceIndex = 0;
  /** Connections opened so far (successful handshakes), for tests and diagnostics. */
  opened = 0;

  readonly serviceAddresses: BrokerAddress[];
  readonly options: PoolOptions;
  constructor(serviceAddresses: BrokerAddress[], options: PoolOptions) {
    this.serviceAddresses = serviceAddresses;
    this.options = options;
  }

  get useTls(): boolean {
    return this.serviceAddresses[0]!.tls;
  }

  serviceAddress(): BrokerAddress {
    return this.serviceAddresses[this.serviceIndex % this.serviceAddresses.length]!;
  }

  getConnection(logicalUrl: string, physical: BrokerAddress, proxied = false): Promise<Connection> {
    if (this.closed) return Promise.reject(new PulsarClientError("CLOSED", "client is closed"));
    const key = `${logicalUrl}|${physical.url}`;
    const existing = this.connections.get(key);
    if (existing) return existing;
    const conn = new Connection({
      physical,
      logicalUrl,
      ...(proxied ? { proxyToBrokerUrl: logicalUrl.replace(/^pulsar(\+ssl)?:\/\//, "") } : {}),
      ...this.options,
    });
    const p = conn.connect().then(
      () => {
        this.opened++;
        return conn;
      },
      (err: unknown) => {
        this.connections.delete(key);
        if (this.serviceAddresses.length > 1 && physical === this.serviceAddress()) this.serviceIndex++;
        throw err;
      },
    );
    conn.onClose(() => {
      if (this.connections.get(key) === p) this.connections.delete(key);
    });
    this.connections.set(key, p);
    return p;
  }

  serviceConnection(): Promise<Connection> {
    const a = this.serviceAddress();
    return this.getConnection(a.url, a);
  }

  async lookup(topic: string): Promise<LookupResult> {
    let conn = await this.serviceConnection();
    let authoritative = false;
    for (let hop = 0; hop < MAX_REDIRECTS; hop++) {
      const requestId = conn.newRequestId();
      const resp = await conn.request(
        { type: CommandType.LOOKUP, lookupTopic: { topic, requestId, authoritative } },
        requestId,
        `lookup of ${topic}`,
      );
      const r = resp.lookupTopicResponse!;
      if (r.response === 2) throw serverError(r.error, r.message, `lookup of ${topic}`);
      const url = this.useTls ? r.brokerServiceUrlTls : r.brokerServiceUrl;
      if (!url) throw new PulsarClientError("PROTOCOL", `lookup of ${topic} returned no broker URL`);
      const proxied = r.proxyThroughServiceUrl === true;
      const physical = proxied ? this.serviceAddress() : parseBrokerUrl(url);
      if (r.response === 0) {
        authoritative = r.authoritative ?? false;
        conn = await this.getConnection(url, physical, proxied);
        continue;
      }
      return { logicalUrl: url, physical, proxied };
    }
    throw new PulsarClientError("PROTOCOL", `lookup of ${topic} redirected more than ${MAX_REDIRECTS} times`);
  }

  async connectionForTopic(topic: string): Promise<Connection> {
    const r = await this.lookup(topic);
    return this.getConnection(r.logicalUrl, r.physical, r.proxied);
  }

  async partitionedMetadata(topic: string): Promise<number> {
    const conn = await this.serviceConnection();
    const requestId = conn.newRequestId();
    const resp = await conn.request(
      { type: CommandType.PARTITIONED_METADATA, partitionMetadata: { topic, requestId } },
      requestId,
      `partitioned metadata of ${topic}`,
    );
    const r = resp.partitionMetadataResponse!;
    if (r.response === 1) throw serverError(r.error, r.message, `partitioned metadata of ${topic}`);
    return r.partitions ?? 0;
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.connections.values()];
    this.connections.clear();
    await Promise.all(
      all.map((p) =>
        p.then(
          (c) => c.destroy(new PulsarClientError("CLOSED", "client closed")),
          () => undefined,
        ),
      ),
    );
  }

  /** Test hook: abruptly drop every open socket. */
  async dropAllConnectionsForTest(): Promise<number> {
    let n = 0;
    for (const p of this.connections.values()) {
      const c = await p.catch(() => undefined);
      if (c && !c.closed) {
        c.destroySocketForTest();
        n++;
      }
    }
    return n;
  }
}

export { serverError };
