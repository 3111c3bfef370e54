// One TCP/TLS connection to a broker: handshake, request/response correlation with timeouts, keepalive,
// and dispatch of producer/consumer commands to their handlers.
import net from "node:net";
import tls from "node:tls";
import { PulsarClientError } from "../errors.ts";
import { serverError } from "./errors-map.ts";
import { DEFAULT_MAX_FRAME_SIZE, type Frame, FrameDecoder, writeCommandFrame, writePayloadFrame } from "./frame.ts";
import { Writer } from "./protobuf.ts";
import { type BaseCommandPb, CommandType, type MessageMetadataPb } from "./schema.ts";
import type { BrokerAddress } from "./service-url.ts";

export const CLIENT_VERSION = "pulsar-connect-ts-0.1.0";
export const PROTOCOL_VERSION = 21;
const FRAME_PADDING = 10 * 1024;

export interface TlsOptions {
  ca?: string | Buffer | Array<string | Buffer>;
  cert?: string | Buffer;
  key?: string | Buffer;
  /** Defaults to true. */
  rejectUnauthorized?: boolean;
  /**
   * Check that the broker's certificate names the host connected to (true by default). false still verifies the
   * chain; it is the Java client's `tlsEnableHostnameVerification=false`.
   */
  hostnameVerification?: boolean;
  servername?: string;
}

export type AuthProvider = () => Promise<{ method: string; data: Buffer }>;

export interface ConnectionOptions {
  /** Where the TCP connection goes. */
  physical: BrokerAddress;
  /** The broker this connection speaks for (differs from `physical` through a proxy). */
  logicalUrl: string;
  proxyToBrokerUrl?: string;
  auth?: AuthProvider;
  tls?: TlsOptions;
  connectionTimeoutMs: number;
  operationTimeoutMs: number;
  keepAliveIntervalMs: number;
}

export interface ProducerHandler {
  onSendReceipt(cmd: NonNullable<BaseCommandPb["sendReceipt"]>): void;
  onSendError(cmd: NonNullable<BaseCommandPb["sendError"]>): void;
  /** The broker closed this producer on `conn` (topic unload, migration). */
  onBrokerClose(conn: Connection): void;
  onConnectionClosed(conn: Connection): void;
}

export interface ConsumerHandler {
  onMessage(cmd: NonNullable<BaseCommandPb["message"]>, frame: Frame): void;
  onActiveConsumerChange(active: boolean): void;
  onReachedEndOfTopic(): void;
  /** The broker closed this consumer on `conn` (topic unload, migration, seek). */
  onBrokerClose(conn: Connection): void;
  onConnectionClosed(conn: Connection): void;
}

interface Pending {
  resolve(cmd: BaseCommandPb): void;
  reject(err: PulsarClientError): void;
  timer: NodeJS.Timeout | undefined;
  what: string;
}

export class Connection {
  readonly options: ConnectionOptions;
  maxMessageSize: number = 5 * 1024 * 1024;
  serverVersion = "";
  closed = false;
  private socket: net.Socket | undefined;
  private readonly decoder = new FrameDecoder(DEFAULT_MAX_FRAME_SIZE);
  private readonly out = new Writer(64 * 1024);
  private flushScheduled = false;
  private nextRequestId = 0;
  private readonly pending = new Map<number, Pending>();
  private readonly producers = new Map<number, ProducerHandler>();
  private readonly consumers = new Map<number, ConsumerHandler>();
  private keepAlive: NodeJS.Timeout | undefined;
  private lastReceived = Date.now();
  private readonly closeListeners: Array<(err: PulsarClientError) => void> = [];

  constructor(options: ConnectionOptions) {
    this.options = options;
  }

  newRequestId(): bigint {
    return BigInt(this.nextRequestId++);
  }

  onClose(listener: (err: PulsarClientError) => void): void {
    this.closeListeners.push(listener);
  }

  async connect(): Promise<void> {
    const { physical, connectionTimeoutMs } = this.options;
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const fail = (err: PulsarClientError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.destroy(err);
        reject(err);
      };
      const timer = setTimeout(
        () =>
          fail(
            new PulsarClientError(
              "CONNECTION_FAILED",
              `connecting to ${physical.url} timed out after ${connectionTimeoutMs} ms`,
            ),
          ),
        connectionTimeoutMs,
      );
      const onConnect = () => {
        this.sendConnect()
          .then(() => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            this.handshakeResolve = undefined;
            resolve();
          })
          .catch((err: unknown) =>
            fail(err instanceof PulsarClientError ? err : new PulsarClientError("CONNECTION_FAILED", String(err))),
          );
      };
      const sock = physical.tls
        ? tls.connect({
            host: physical.host,
            port: physical.port,
            servername: this.options.tls?.servername ?? (net.isIP(physical.host) ? undefined : physical.host),
            ca: this.options.tls?.ca,
            cert: this.options.tls?.cert,
            key: this.options.tls?.key,
            rejectUnauthorized: this.options.tls?.rejectUnauthorized ?? true,
            ...(this.options.tls?.hostnameVerification === false ? { checkServerIdentity: () => undefined } : {}),
          })
        : net.connect({ host: physical.host, port: physical.port });
      this.socket = sock;
      sock.setNoDelay(true);
      sock.once(physical.tls ? "secureConnect" : "connect", onConnect);
      sock.on("data", (chunk: Buffer) => this.onData(chunk));
      sock.on("error", (err) => {
        const e = new PulsarClientError("CONNECTION_FAILED", `connection to ${physical.url} failed: ${err.message}`, {
          cause: err,
        });
        if (!settled) fail(e);
        else this.destroy(e);
      });
      sock.on("close", () => {
        const e = new PulsarClientError("CONNECTION_FAILED", `connection to ${physical.url} closed`);
        if (!settled) fail(e);
        else this.destroy(e);
      });
      this.handshakeReject = fail;
    });
    this.keepAlive = setInterval(() => this.checkKeepAlive(), this.options.keepAliveIntervalMs);
    this.keepAlive.unref();
  }

  private handshakeResolve: ((cmd: BaseCommandPb) => void) | undefined;
  private handshakeReject: ((err: PulsarClientError) => void) | undefined;

  private async sendConnect(): Promise<void> {
    const connect: NonNullable<BaseCommandPb["connect"]> = {
      clientVersion: CLIENT_VERSION,
      protocolVersion: PROTOCOL_VERSION,
      featureFlags: { supportsAuthRefresh: true },
    };
    if (this.options.auth) {
      const { method, data } = await this.options.auth();
      connect.authMethodName = method;
      connect.authData = data;
    }
    if (this.options.proxyToBrokerUrl) connect.proxyToBrokerUrl = this.options.proxyToBrokerUrl;
    const connected = new Promise<BaseCommandPb>((resolve) => {
      this.handshakeResolve = resolve;
    });
    this.write({ type: CommandType.CONNECT, connect });
    const cmd = await connected;
    const c = cmd.connected!;
    this.serverVersion = c.serverVersion ?? "";
    if (c.maxMessageSize !== undefined && c.maxMessageSize > 0) {
      this.maxMessageSize = c.maxMessageSize;
      this.decoder.maxFrameSize = c.maxMessageSize + FRAME_PADDING;
    }
  }

  private checkKeepAlive(): void {
    if (this.closed) return;
    if (Date.now() - this.lastReceived > 2 * this.options.keepAliveIntervalMs) {
      this.destroy(
        new PulsarClientError("CONNECTION_FAILED", `no data from ${this.options.physical.url}; keepalive expired`),
      );
      return;
    }
    this.write({ type: CommandType.PING, ping: {} });
  }

  registerProducer(id: bigint, handler: ProducerHandler): void {
    this.producers.set(Number(id), handler);
  }
  unregisterProducer(id: bigint): void {
    this.producers.delete(Number(id));
  }
  registerConsumer(id: bigint, handler: ConsumerHandler): void {
    this.consumers.set(Number(id), handler);
  }
  unregisterConsumer(id: bigint): void {
    this.consumers.delete(Number(id));
  }

  /** Queues a command; all commands queued in one tick go out in one socket write. */
  write(cmd: BaseCommandPb): void {
    if (this.closed) return;
    writeCommandFrame(this.out, cmd);
    this.scheduleFlush();
  }

  writePayload(cmd: BaseCommandPb, metadata: MessageMetadataPb, payload: Uint8Array): void {
    if (this.closed) return;
    writePayloadFrame(this.out, cmd, metadata, payload);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.out.pos === 0 || !this.socket || this.closed) {
      this.out.reset();
      return;
    }
    const chunk = Buffer.allocUnsafe(this.out.pos);
    this.out.buf.copy(chunk, 0, 0, this.out.pos);
    this.out.reset();
    this.socket.write(chunk);
  }

  /** Sends a request carrying `requestId` and resolves with the broker's response command. */
  request(
    cmd: BaseCommandPb,
    requestId: bigint,
    what: string,
    timeoutMs: number = this.options.operationTimeoutMs,
  ): Promise<BaseCommandPb> {
    if (this.closed) {
      return Promise.reject(new PulsarClientError("CONNECTION_FAILED", `${what}: connection is closed`));
    }
    return new Promise<BaseCommandPb>((resolve, reject) => {
      const id = Number(requestId);
      const timer =
        timeoutMs > 0
          ? setTimeout(() => {
              this.pending.delete(id);
              reject(new PulsarClientError("TIMEOUT", `${what} timed out after ${timeoutMs} ms`));
            }, timeoutMs)
          : undefined;
      this.pending.set(id, { resolve, reject, timer, what });
      this.write(cmd);
    });
  }

  private onData(chunk: Buffer): void {
    this.lastReceived = Date.now();
    let frames: Frame[];
    try {
      frames = this.decoder.push(chunk);
    } catch (err) {
      this.destroy(err as PulsarClientError);
      return;
    }
    for (const frame of frames) {
      try {
        this.dispatch(frame);
      } catch (err) {
        this.destroy(
          err instanceof PulsarClientError
            ? err
            : new PulsarClientError("PROTOCOL", "error handling a frame", { cause: err }),
        );
        return;
      }
    }
  }

  private settle(requestId: bigint | undefined, cmd: BaseCommandPb): void {
    if (requestId === undefined) return;
    const id = Number(requestId);
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    if (p.timer) clearTimeout(p.timer);
    if (cmd.type === CommandType.ERROR) p.reject(serverError(cmd.error?.error, cmd.error?.message, p.what));
    else p.resolve(cmd);
  }

  private dispatch(frame: Frame): void {
    const cmd = frame.command;
    switch (cmd.type) {
      case CommandType.CONNECTED:
        this.handshakeResolve?.(cmd);
        return;
      case CommandType.AUTH_CHALLENGE:
        void this.answerAuthChallenge();
        return;
      case CommandType.PING:
        this.write({ type: CommandType.PONG, pong: {} });
        return;
      case CommandType.PONG:
        return;
      case CommandType.ERROR:
        if (this.handshakeResolve && this.handshakeReject) {
          this.handshakeReject(serverError(cmd.error?.error, cmd.error?.message, "connect"));
          return;
        }
        this.settle(cmd.error?.requestId, cmd);
        return;
      case CommandType.SUCCESS:
        this.settle(cmd.success?.requestId, cmd);
        return;
      case CommandType.PRODUCER_SUCCESS:
        // producer_ready=false: queued for exclusive access; the final answer comes later with the same id.
        if (cmd.producerSuccess?.producerReady === false) return;
        this.settle(cmd.producerSuccess?.requestId, cmd);
        return;
      case CommandType.LOOKUP_RESPONSE:
        this.settle(cmd.lookupTopicResponse?.requestId, cmd);
        return;
      case CommandType.PARTITIONED_METADATA_RESPONSE:
        this.settle(cmd.partitionMetadataResponse?.requestId, cmd);
        return;
      case CommandType.GET_LAST_MESSAGE_ID_RESPONSE:
        this.settle(cmd.getLastMessageIdResponse?.requestId, cmd);
        return;
      case CommandType.GET_TOPICS_OF_NAMESPACE_RESPONSE:
        this.settle(cmd.getTopicsOfNamespaceResponse?.requestId, cmd);
        return;
      case CommandType.GET_SCHEMA_RESPONSE:
        this.settle(cmd.getSchemaResponse?.requestId, cmd);
        return;
      case CommandType.GET_OR_CREATE_SCHEMA_RESPONSE:
        this.settle(cmd.getOrCreateSchemaResponse?.requestId, cmd);
        return;
      case CommandType.ACK_RESPONSE:
        this.settle(cmd.ackResponse?.requestId, cmd);
        return;
      case CommandType.TC_CLIENT_CONNECT_RESPONSE:
        this.settle(cmd.tcClientConnectResponse?.requestId, cmd);
        return;
      case CommandType.NEW_TXN_RESPONSE:
        this.settle(cmd.newTxnResponse?.requestId, cmd);
        return;
      case CommandType.ADD_PARTITION_TO_TXN_RESPONSE:
        this.settle(cmd.addPartitionToTxnResponse?.requestId, cmd);
        return;
      case CommandType.ADD_SUBSCRIPTION_TO_TXN_RESPONSE:
        this.settle(cmd.addSubscriptionToTxnResponse?.requestId, cmd);
        return;
      case CommandType.END_TXN_RESPONSE:
        this.settle(cmd.endTxnResponse?.requestId, cmd);
        return;
      case CommandType.SEND_RECEIPT: {
        const r = cmd.sendReceipt;
        if (r?.producerId !== undefined) this.producers.get(Number(r.producerId))?.onSendReceipt(r);
        return;
      }
      case CommandType.SEND_ERROR: {
        const r = cmd.sendError;
        if (r?.producerId !== undefined) this.producers.get(Number(r.producerId))?.onSendError(r);
        return;
      }
      case CommandType.CLOSE_PRODUCER: {
        const id = cmd.closeProducer?.producerId;
        if (id === undefined) return;
        const h = this.producers.get(Number(id));
        this.producers.delete(Number(id));
        h?.onBrokerClose(this);
        return;
      }
      case CommandType.MESSAGE: {
        const m = cmd.message;
        if (m?.consumerId !== undefined) this.consumers.get(Number(m.consumerId))?.onMessage(m, frame);
        return;
      }
      case CommandType.ACTIVE_CONSUMER_CHANGE: {
        const m = cmd.activeConsumerChange;
        if (m?.consumerId !== undefined)
          this.consumers.get(Number(m.consumerId))?.onActiveConsumerChange(m.isActive ?? false);
        return;
      }
      case CommandType.REACHED_END_OF_TOPIC: {
        const m = cmd.reachedEndOfTopic;
        if (m?.consumerId !== undefined) this.consumers.get(Number(m.consumerId))?.onReachedEndOfTopic();
        return;
      }
      case CommandType.CLOSE_CONSUMER: {
        const id = cmd.closeConsumer?.consumerId;
        if (id === undefined) return;
        const h = this.consumers.get(Number(id));
        this.consumers.delete(Number(id));
        h?.onBrokerClose(this);
        return;
      }
      case CommandType.TOPIC_MIGRATED: {
        const m = cmd.topicMigrated;
        if (m?.resourceId === undefined) return;
        const id = Number(m.resourceId);
        if (m.resourceType === 0) {
          const h = this.producers.get(id);
          this.producers.delete(id);
          h?.onBrokerClose(this);
        } else {
          const h = this.consumers.get(id);
          this.consumers.delete(id);
          h?.onBrokerClose(this);
        }
        return;
      }
      default:
        return;
    }
  }

  private async answerAuthChallenge(): Promise<void> {
    if (!this.options.auth) return;
    try {
      const { method, data } = await this.options.auth();
      this.write({
        type: CommandType.AUTH_RESPONSE,
        authResponse: {
          clientVersion: CLIENT_VERSION,
          protocolVersion: PROTOCOL_VERSION,
          response: { authMethodName: method, authData: data },
        },
      });
    } catch (err) {
      this.destroy(new PulsarClientError("AUTHENTICATION", "cannot refresh credentials", { cause: err }));
    }
  }

  /** Closes the socket and fails everything that waits on this connection. */
  destroy(err: PulsarClientError = new PulsarClientError("CLOSED", "connection closed")): void {
    if (this.closed) return;
    this.closed = true;
    if (this.keepAlive) clearInterval(this.keepAlive);
    this.socket?.destroy();
    for (const p of this.pending.values()) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(
        new PulsarClientError(err.code === "CLOSED" ? "CLOSED" : "CONNECTION_FAILED", `${p.what}: ${err.message}`, {
          cause: err,
          retryable: true,
        }),
      );
    }
    this.pending.clear();
    const producers = [...this.producers.values()];
    const consumers = [...this.consumers.values()];
    this.producers.clear();
    this.consumers.clear();
    for (const h of producers) h.onConnectionClosed(this);
    for (const h of consumers) h.onConnectionClosed(this);
    for (const l of this.closeListeners) l(err);
  }

  /** Test hook: drop the TCP connection abruptly, as a network failure would. */
  destroySocketForTest(): void {
    this.socket?.destroy();
  }
}
