// A TEST DOUBLE of an Aerospike server: no Aerospike server can be obtained where these tests run, so this speaks
// just enough of the wire protocol for the real `aerospike` client to connect, tend its one-node cluster, put and
// get single records. It is not a database: one in-memory map, no TTL, no generation checks, no auth.
import { createHash } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";

const PROTO_VERSION = 2;
const TYPE_INFO = 1;
const TYPE_MESSAGE = 3;
const MSG_HEADER_SIZE = 22;
const FIELD_NAMESPACE = 0;
const FIELD_SET = 1;
const FIELD_DIGEST = 4;
const INFO1_READ = 0x01;
const INFO1_GET_ALL = 0x02;
const INFO1_NOBINDATA = 0x20;
const INFO2_WRITE = 0x01;
const INFO2_DELETE = 0x02;
const OP_READ = 1;
const OP_WRITE = 2;
const RESULT_OK = 0;
const RESULT_KEY_NOT_FOUND = 2;
const RESULT_PARAMETER = 4;
const N_PARTITIONS = 4096;
const PARTICLE_INTEGER = 1;

/** A stored bin: its particle type and raw value bytes, returned as written. */
interface StoredBin {
  type: number;
  value: Buffer;
}

/** A stored record. */
export interface StoredRecord {
  namespace: string;
  set: string;
  digest: string;
  generation: number;
  bins: Map<string, StoredBin>;
}

/** One request seen by the double, for assertions and for diagnosing what the client asked. */
export interface SeenRequest {
  type: "info" | "message";
  /** Info command names, or "write"/"read"/"other" for messages. */
  names: string[];
}

/** Options of the test double. */
export interface AerospikeTestDoubleOptions {
  namespace?: string;
  nodeName?: string;
  /** Make every write answer with this result code (e.g. 9 timeout, 14 key busy), to test error handling. */
  failWritesWith?: number;
}

/** Partition bitmap with every partition owned by this node, base64 as the replicas info answer carries it. */
function fullBitmap(): string {
  return Buffer.alloc(N_PARTITIONS / 8, 0xff).toString("base64");
}

/** The server side of the Aerospike test double: a TCP server on 127.0.0.1 with an in-memory record map. */
class AerospikeTestDoubleServer {
  readonly records = new Map<string, StoredRecord>();
  readonly seen: SeenRequest[] = [];
  readonly unknownInfo = new Set<string>();
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly namespace: string;
  private readonly nodeName: string;
  failWritesWith: number | undefined;
  port = 0;

  constructor(options: AerospikeTestDoubleOptions = {}) {
    this.namespace = options.namespace ?? "test";
    this.nodeName = options.nodeName ?? "BB9TESTDOUBLE01";
    this.failWritesWith = options.failWritesWith;
    this.server = createServer((socket) => this.accept(socket));
  }

  /** Starts listening on a free loopback port. */
  async start(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    const address = this.server.address();
    this.port = typeof address === "object" && address ? address.port : 0;
    return this.port;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The record stored under a user key (string keys), or undefined. */
  get(set: string, key: string): StoredRecord | undefined {
    return this.records.get(digestOf(set, key).toString("hex"));
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.on("close", () => this.sockets.delete(socket));
    socket.on("error", () => undefined);
    let pending = Buffer.alloc(0);
    socket.on("data", (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 8) {
        const size = Number(pending.readBigUInt64BE(0) & 0xffffffffffffn);
        if (pending.length < 8 + size) break;
        const type = pending[1] ?? 0;
        const body = pending.subarray(8, 8 + size);
        pending = pending.subarray(8 + size);
        const answer = type === TYPE_INFO ? this.info(body) : type === TYPE_MESSAGE ? this.message(body) : undefined;
        if (answer) socket.write(answer);
        else socket.destroy();
      }
    });
  }

  private info(body: Buffer): Buffer {
    const names = body
      .toString("utf8")
      .split("\n")
      .filter((name) => name !== "");
    this.seen.push({ type: "info", names });
    let out = "";
    for (const name of names) {
      const value = this.infoValue(name);
      if (value === undefined) {
        this.unknownInfo.add(name);
        out += `${name}\t\n`;
      } else {
        out += `${name}\t${value}\n`;
      }
    }
    return frame(TYPE_INFO, Buffer.from(out, "utf8"));
  }

  private infoValue(name: string): string | undefined {
    switch (name) {
      case "node":
        return this.nodeName;
      case "build":
        return "8.0.0.0";
      case "version":
        return "Aerospike Enterprise Edition build 8.0.0.0";
      case "edition":
        return "Aerospike Enterprise Edition";
      case "features":
        return "batch-any;batch-index;blob-bits;cdt-list;cdt-map;cluster-stable;float;geo;sindex-exists;peers;pipelining;pquery;pscans;query-show;relaxed-sc;replicas;replicas-all;replicas-master;truncate-namespace;udf";
      case "cluster-name":
        return "null";
      case "partition-generation":
      case "peers-generation":
      case "rebalance-generation":
        return "1";
      case "partitions":
        return String(N_PARTITIONS);
      case "peers-clear-std":
      case "peers-clear-alt":
      case "peers-tls-std":
      case "peers-tls-alt":
        return "1,3000,[]";
      case "service-clear-std":
      case "service-clear-alt":
        return `127.0.0.1:${this.port}`;
      case "replicas":
      case "replicas-all":
        return `${this.namespace}:0,1,${fullBitmap()};`;
      case "replicas-master":
        return `${this.namespace}:${fullBitmap()};`;
      case "racks:":
        return "";
      case "namespaces":
        return this.namespace;
      default:
        return undefined;
    }
  }

  private message(body: Buffer): Buffer {
    const info1 = body[1] ?? 0;
    const info2 = body[2] ?? 0;
    const nFields = body.readUInt16BE(18);
    const nOps = body.readUInt16BE(20);
    let offset = body[0] ?? MSG_HEADER_SIZE;
    let namespace = "";
    let set = "";
    let digest: Buffer | undefined;
    for (let i = 0; i < nFields; i++) {
      const size = body.readUInt32BE(offset);
      const type = body[offset + 4];
      const data = body.subarray(offset + 5, offset + 4 + size);
      if (type === FIELD_NAMESPACE) namespace = data.toString("utf8");
      else if (type === FIELD_SET) set = data.toString("utf8");
      else if (type === FIELD_DIGEST) digest = Buffer.from(data);
      offset += 4 + size;
    }
    const ops: Array<{ op: number; type: number; name: string; value: Buffer }> = [];
    for (let i = 0; i < nOps; i++) {
      const size = body.readUInt32BE(offset);
      const op = body[offset + 4] ?? 0;
      const type = body[offset + 5] ?? 0;
      const nameLength = body[offset + 7] ?? 0;
      const name = body.subarray(offset + 8, offset + 8 + nameLength).toString("utf8");
      const value = Buffer.from(body.subarray(offset + 8 + nameLength, offset + 4 + size));
      ops.push({ op, type, name, value });
      offset += 4 + size;
    }
    const write = (info2 & INFO2_WRITE) !== 0 && (info2 & INFO2_DELETE) === 0;
    this.seen.push({ type: "message", names: [write ? "write" : (info1 & INFO1_READ) !== 0 ? "read" : "other"] });
    if (!digest || namespace !== this.namespace) return reply(RESULT_PARAMETER, 0, []);
    const id = digest.toString("hex");
    if (write) {
      if (this.failWritesWith !== undefined) return reply(this.failWritesWith, 0, []);
      const record = this.records.get(id) ?? { namespace, set, digest: id, generation: 0, bins: new Map() };
      for (const op of ops) if (op.op === OP_WRITE) record.bins.set(op.name, { type: op.type, value: op.value });
      record.generation++;
      this.records.set(id, record);
      return reply(RESULT_OK, record.generation, []);
    }
    if ((info1 & INFO1_READ) !== 0) {
      const record = this.records.get(id);
      if (!record) return reply(RESULT_KEY_NOT_FOUND, 0, []);
      if ((info1 & INFO1_NOBINDATA) !== 0) return reply(RESULT_OK, record.generation, []);
      const wanted =
        (info1 & INFO1_GET_ALL) !== 0 || ops.length === 0 ? [...record.bins.keys()] : ops.map((op) => op.name);
      const bins = wanted.flatMap((name) => {
        const bin = record.bins.get(name);
        return bin ? [{ name, ...bin }] : [];
      });
      return reply(RESULT_OK, record.generation, bins);
    }
    return reply(RESULT_PARAMETER, 0, []);
  }
}

/** RIPEMD-160 digest Aerospike derives from set name, key particle type and key bytes (string keys). */
export function digestOf(set: string, key: string): Buffer {
  return createHash("ripemd160")
    .update(Buffer.from(set, "utf8"))
    .update(Buffer.from([3]))
    .update(Buffer.from(key, "utf8"))
    .digest();
}

function frame(type: number, body: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeBigUInt64BE((BigInt(PROTO_VERSION) << 56n) | (BigInt(type) << 48n) | BigInt(body.length));
  return Buffer.concat([header, body]);
}

function reply(resultCode: number, generation: number, bins: Array<{ name: string; type: number; value: Buffer }>) {
  const header = Buffer.alloc(MSG_HEADER_SIZE);
  header[0] = MSG_HEADER_SIZE;
  header[5] = resultCode;
  header.writeUInt32BE(generation, 6);
  header.writeUInt16BE(0, 18);
  header.writeUInt16BE(bins.length, 20);
  const ops = bins.map((bin) => {
    const name = Buffer.from(bin.name, "utf8");
    const op = Buffer.alloc(8);
    op.writeUInt32BE(4 + name.length + bin.value.length, 0);
    op[4] = OP_READ;
    op[5] = bin.type;
    op[6] = 0;
    op[7] = name.length;
    return Buffer.concat([op, name, bin.value]);
  });
  return frame(TYPE_MESSAGE, Buffer.concat([header, ...ops]));
}

/** A record as the test double hands it to tests: bins as particle type + raw bytes. */
export interface StoredRecordView {
  namespace: string;
  set: string;
  generation: number;
  bins: Record<string, { type: number; value: Uint8Array }>;
}

type RequestBody =
  | { kind: "get"; set: string; key: string }
  | { kind: "seen" }
  | { kind: "count" }
  | { kind: "integers"; set: string; bin: string }
  | { kind: "failWrites"; code: number | undefined };
type Request = RequestBody & { id: number };

/**
 * The Aerospike test double, run in a worker thread: the client's seed connection is made synchronously on the
 * JavaScript thread, so a server on that same thread could never answer it.
 */
export class AerospikeTestDouble {
  private worker: Worker | undefined;
  private readonly options: AerospikeTestDoubleOptions;
  private nextId = 0;
  private readonly waiting = new Map<number, (value: unknown) => void>();
  port = 0;

  constructor(options: AerospikeTestDoubleOptions = {}) {
    this.options = options;
  }

  /** Starts the worker and its server; resolves with the port. */
  async start(): Promise<number> {
    const worker = new Worker(new URL(import.meta.url), { workerData: this.options });
    this.worker = worker;
    this.port = await new Promise<number>((resolve, reject) => {
      worker.once("error", reject);
      worker.once("message", (message: { port: number }) => resolve(message.port));
    });
    worker.on("message", (message: { id: number; value: unknown }) => {
      this.waiting.get(message.id)?.(message.value);
      this.waiting.delete(message.id);
    });
    return this.port;
  }

  private ask<T>(request: RequestBody): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve) => {
      this.waiting.set(id, resolve as (value: unknown) => void);
      this.worker?.postMessage({ ...request, id });
    });
  }

  /** The record stored under a string user key in `set`, or undefined. */
  get(set: string, key: string): Promise<StoredRecordView | undefined> {
    return this.ask({ kind: "get", set, key });
  }

  /** Values of the integer bin `bin` of every record in `set`, one per record. */
  integerBins(set: string, bin: string): Promise<number[]> {
    return this.ask({ kind: "integers", set, bin });
  }

  /** Number of stored records. */
  count(): Promise<number> {
    return this.ask({ kind: "count" });
  }

  /** What the client sent so far, and the info names the double did not know. */
  seen(): Promise<{ requests: SeenRequest[]; unknownInfo: string[] }> {
    return this.ask({ kind: "seen" });
  }

  /** Makes every later write answer with `code` (undefined: succeed again). */
  failWrites(code: number | undefined): Promise<void> {
    return this.ask({ kind: "failWrites", code });
  }

  async stop(): Promise<void> {
    await this.worker?.terminate();
  }
}

if (!isMainThread && parentPort) {
  const port = parentPort;
  const server = new AerospikeTestDoubleServer(workerData as AerospikeTestDoubleOptions);
  server.start().then((listening) => port.postMessage({ port: listening }));
  port.on("message", (request: Request) => {
    let value: unknown;
    if (request.kind === "get") {
      const record = server.get(request.set, request.key);
      value = record && {
        namespace: record.namespace,
        set: record.set,
        generation: record.generation,
        bins: Object.fromEntries([...record.bins].map(([name, bin]) => [name, { type: bin.type, value: bin.value }])),
      };
    } else if (request.kind === "integers") {
      value = [...server.records.values()]
        .filter((record) => record.set === request.set)
        .flatMap((record) => {
          const bin = record.bins.get(request.bin);
          return bin && bin.type === PARTICLE_INTEGER ? [Number(bin.value.readBigInt64BE(0))] : [];
        });
    } else if (request.kind === "count") {
      value = server.records.size;
    } else if (request.kind === "seen") {
      value = { requests: server.seen, unknownInfo: [...server.unknownInfo] };
    } else {
      server.failWritesWith = request.code;
    }
    port.postMessage({ id: request.id, value });
  });
}
