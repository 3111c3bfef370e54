/**
 * The streaming half of the replication protocol over a `pg` client opened with `replication: "database"`:
 * START_REPLICATION runs as a custom query that receives the CopyBoth stream, splits it into XLogData and
 * keepalive messages, and sends standby status updates (the confirmed flush position) back.
 */
import type pg from "pg";
import { formatLsn, type Lsn } from "./lsn.ts";

/** Microseconds between 1970-01-01 and 2000-01-01 (the epoch of the protocol's clock). */
const PG_EPOCH_OFFSET_US = 946_684_800_000_000n;

export interface StreamHandlers {
  /** One decoded-message payload and the WAL position it starts at. */
  onData(walStart: Lsn, walEnd: Lsn, payload: Buffer): void;
  /** The server's keepalive: it has sent everything up to `walEnd`. */
  onKeepalive(walEnd: Lsn, replyRequested: boolean): void;
}

interface ConnectionLike {
  query(text: string): void;
  sendCopyFromChunk(chunk: Buffer): void;
  once(event: string, listener: (...args: unknown[]) => void): void;
  removeListener(event: string, listener: (...args: unknown[]) => void): void;
  stream: { pause(): void; resume(): void; isPaused?(): boolean };
}

/** The custom query object `pg` runs: it receives copy data instead of rows. */
class StartReplicationQuery {
  readonly text: string;
  private readonly handlers: StreamHandlers;
  private readonly done: { resolve(): void; reject(error: Error): void };

  constructor(text: string, handlers: StreamHandlers, done: { resolve(): void; reject(error: Error): void }) {
    this.text = text;
    this.handlers = handlers;
    this.done = done;
  }

  submit(connection: ConnectionLike): void {
    connection.query(this.text);
  }

  handleCopyData(message: { chunk: Buffer }): void {
    const chunk = message.chunk;
    const kind = chunk[0];
    if (kind === 0x77 /* w */) {
      const walStart = chunk.readBigUInt64BE(1);
      const walEnd = chunk.readBigUInt64BE(9);
      this.handlers.onData(walStart, walEnd, chunk.subarray(25));
    } else if (kind === 0x6b /* k */) {
      this.handlers.onKeepalive(chunk.readBigUInt64BE(1), chunk[17] === 1);
    }
  }

  handleError(error: Error): void {
    this.done.reject(error);
  }

  handleReadyForQuery(): void {
    this.done.resolve();
  }

  handleCommandComplete(): void {}
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyInResponse(): void {}
}

export interface StreamOptions {
  slot: string;
  publication: string;
  startLsn: Lsn;
}

/** A running logical replication stream. */
export class ReplicationStream {
  private readonly connection: ConnectionLike;
  /** Settles when the server ends the stream or the connection fails. */
  readonly ended: Promise<void>;
  private paused = false;

  private constructor(connection: ConnectionLike, ended: Promise<void>) {
    this.connection = connection;
    this.ended = ended;
  }

  /** Starts streaming; resolves once the server accepted START_REPLICATION (it rejects a missing slot here). */
  static async start(client: pg.Client, options: StreamOptions, handlers: StreamHandlers): Promise<ReplicationStream> {
    const connection = (client as unknown as { connection: ConnectionLike }).connection;
    const quote = (text: string) => text.replaceAll("'", "''");
    const text =
      `START_REPLICATION SLOT "${options.slot}" LOGICAL ${formatLsn(options.startLsn)} ` +
      `(proto_version '1', publication_names '"${quote(options.publication).replaceAll('"', '""')}"')`;
    let settle!: { resolve(): void; reject(error: Error): void };
    const ended = new Promise<void>((resolve, reject) => {
      settle = { resolve, reject };
    });
    ended.catch(() => {});
    const started = new Promise<void>((resolve, reject) => {
      const onStart = () => {
        connection.removeListener("replicationStart", onStart);
        resolve();
      };
      connection.once("replicationStart", onStart);
      ended.then(
        () => reject(new Error("the server ended replication before it started")),
        (error: unknown) => {
          connection.removeListener("replicationStart", onStart);
          reject(error);
        },
      );
    });
    client.query(new StartReplicationQuery(text, handlers, settle) as unknown as pg.QueryConfig);
    await started;
    return new ReplicationStream(connection, ended);
  }

  /** Tells the server what was received and what may be dropped from the slot (`flushed`). */
  sendStatus(received: Lsn, flushed: Lsn, replyRequested = false): void {
    const message = Buffer.alloc(34);
    message[0] = 0x72; /* r */
    message.writeBigUInt64BE(received, 1);
    message.writeBigUInt64BE(flushed, 9);
    message.writeBigUInt64BE(flushed, 17);
    message.writeBigInt64BE(BigInt(Date.now()) * 1000n - PG_EPOCH_OFFSET_US, 25);
    message[33] = replyRequested ? 1 : 0;
    this.connection.sendCopyFromChunk(message);
  }

  /** Stops reading from the socket (TCP backpressure reaches the server); writes still go out. */
  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.connection.stream.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.connection.stream.resume();
  }
}
