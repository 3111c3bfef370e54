import { createReadStream } from "node:fs";
import { access, constants, open, readdir, rename, stat, unlink } from "node:fs/promises";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import type { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import {
  ConnectorError,
  type Logger,
  type ReadOptions,
  type SourceContext,
  type SourceInstance,
  type SourceRecord,
  type StateStore,
} from "@pulsar-connect/core";
import type { FileSourceConfig } from "../definition.ts";
import { type Line, LineSplitter } from "./lines.ts";

/** A file as listed: what identifies this version of it. */
interface Listed {
  path: string;
  size: number;
  mtimeMs: number;
}

const signature = (file: Listed) => `${file.size}:${file.mtimeMs}`;
const markerKey = (path: string) => `file-source/done/${path}`;
/** The file this instance reads (or read last), with its ordinal; the next file gets the ordinal after it. */
const CURRENT_KEY = "file-source/current";
/** Sequence id = ordinal << LINE_BITS | line number: room for 2^36 lines per file and 2^27 files. */
const LINE_BITS = 36n;

interface Current {
  path: string;
  signature: string;
  ordinal: string;
}
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One file being read: its lines come out in order, its records' acks are counted until all are in. */
class FileWork {
  readonly file: Listed;
  /** Place of the file in this instance's sequence of files: the high bits of its records' sequence ids. */
  readonly ordinal: bigint;
  private readonly splitter = new LineSplitter();
  private readonly stream: Readable;
  private readonly chunks: AsyncIterator<Buffer>;
  private buffered: Line[] = [];
  /** Every line has been handed out. */
  done = false;
  emitted = 0;
  settled = 0;
  failed = false;
  /** Reading failed (a corrupt gzip stream, an I/O error): the file is left alone until it changes. */
  unreadable = false;

  constructor(file: Listed, gzip: boolean, ordinal: bigint) {
    this.file = file;
    this.ordinal = ordinal;
    // Only the bytes present at listing time: what is appended later is not read, and the file is not removed.
    const raw = createReadStream(file.path, { start: 0, end: Math.max(0, file.size - 1), highWaterMark: 64 * 1024 });
    this.stream = gzip ? raw.pipe(createGunzip()) : raw;
    if (gzip) raw.once("error", (error) => this.stream.destroy(error));
    this.chunks = this.stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  /** Up to `max` next lines; waits for the disk only when none is buffered. */
  async next(max: number): Promise<Line[]> {
    while (this.buffered.length === 0 && !this.done) {
      const chunk = await this.chunks.next();
      if (chunk.done) {
        this.buffered.push(...this.splitter.end());
        this.done = this.buffered.length === 0;
        break;
      }
      this.buffered.push(...this.splitter.push(chunk.value));
    }
    const lines = this.buffered.splice(0, max);
    this.emitted += lines.length;
    if (this.buffered.length === 0 && lines.length > 0) {
      // Look ahead one step so that `done` is known as soon as the last line is out.
      const chunk = await this.chunks.next();
      if (chunk.done) {
        this.buffered.push(...this.splitter.end());
        this.done = this.buffered.length === 0;
      } else {
        this.buffered.push(...this.splitter.push(chunk.value));
      }
    }
    return lines;
  }

  get complete(): boolean {
    return this.done && this.settled === this.emitted;
  }

  close(): void {
    this.stream.destroy();
  }
}

async function isGzip(path: string): Promise<boolean | "zip"> {
  const handle = await open(path, "r");
  try {
    const head = Buffer.alloc(4);
    const { bytesRead } = await handle.read(head, 0, 4, 0);
    if (bytesRead >= 2 && head[0] === 0x1f && head[1] === 0x8b) return true;
    if (bytesRead === 4 && head.readUInt32LE(0) === 0x04034b50) return "zip";
    return false;
  } finally {
    await handle.close();
  }
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((done) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        done();
      },
      { once: true },
    );
  });

/**
 * Lists the directory every `pollingInterval`, reads up to `numWorkers` files at a time as streams, and emits one
 * record per line. A file is deleted (or renamed with `processedFileSuffix`, or remembered with `keepFile`) only once
 * every one of its records has its Pulsar receipt; a file with a failed record, or one that changed while it was read,
 * stays and is read again from the start. A marker in the state store, written before the removal, keeps a file
 * whose records are all stored from being read again should the process die before removing it.
 */
export class FileSource implements SourceInstance {
  private readonly config: FileSourceConfig;
  private readonly logger: Logger;
  private readonly state: StateStore;
  private readonly root: string;
  private readonly fileFilter: RegExp;
  private readonly pathFilter: RegExp | undefined;
  /** Files listed and waiting for a worker, in path order. */
  private queue: Listed[] = [];
  /** Files being read. */
  private reading: FileWork[] = [];
  /** Files read or being read whose records are not all settled, by path. */
  private readonly inProcess = new Map<string, FileWork>();
  /** Signatures of files processed with keepFile (or not removable), by path: not read again unless changed. */
  private readonly processed = new Map<string, string>();
  /** Files skipped with a warning (zip archives), by path and signature, so the warning is given once. */
  private readonly skipped = new Map<string, string>();
  private readonly completions = new Set<Promise<void>>();
  private nextListing = 0;
  private closed = false;
  private readonly effectivelyOnce: boolean;
  private readonly partitionId: string;
  private current: Current | undefined;

  private constructor(config: FileSourceConfig, context: SourceContext, root: string, current: Current | undefined) {
    this.config = config;
    this.effectivelyOnce = context.processingGuarantee === "EFFECTIVELY_ONCE";
    this.partitionId = `file:${context.name}:${context.instanceId}`;
    this.current = current;
    this.logger = context.logger;
    this.state = context.state;
    this.root = root;
    this.fileFilter = new RegExp(`^(?:${config.fileFilter})$`, "u");
    this.pathFilter = config.pathFilter === undefined ? undefined : new RegExp(`^(?:${config.pathFilter})$`, "u");
  }

  static async open(config: FileSourceConfig, context: SourceContext): Promise<FileSource> {
    if (context.processingGuarantee === "EFFECTIVELY_ONCE" && config.numWorkers > 1) {
      const message = "must be 1 under EFFECTIVELY_ONCE (files are sent one after another, in one sequence)";
      throw new ConnectorError("INVALID_CONFIG", `numWorkers ${message}`, {
        retryable: false,
        issues: [{ path: "configs.numWorkers", message }],
      });
    }
    const root = resolve(config.inputDirectory);
    const problem = await FileSource.directoryProblem(root, config.keepFile);
    if (problem !== undefined) {
      const message = `${problem}`;
      throw new ConnectorError("INVALID_CONFIG", `inputDirectory ${message}`, {
        retryable: false,
        issues: [{ path: "configs.inputDirectory", message }],
      });
    }
    const stored = await context.state.get(CURRENT_KEY);
    const current = stored === undefined ? undefined : (JSON.parse(decoder.decode(stored)) as Current);
    return new FileSource(config, context, root, current);
  }

  private static async directoryProblem(root: string, keepFile: boolean): Promise<string | undefined> {
    try {
      if (!(await stat(root)).isDirectory()) return "is not a directory";
    } catch {
      return "does not exist";
    }
    try {
      await access(root, constants.R_OK | constants.X_OK);
    } catch {
      return "is not readable";
    }
    if (!keepFile) {
      try {
        await access(root, constants.W_OK);
      } catch {
        return "is not writable, and processed files are removed from it (keepFile is false)";
      }
    }
    return undefined;
  }

  async read({ maxRecords, signal }: ReadOptions): Promise<SourceRecord[]> {
    const idleUntil = Date.now() + 1_000;
    for (;;) {
      if (Date.now() >= this.nextListing) {
        await this.list();
        this.nextListing = Date.now() + this.config.pollingInterval;
      }
      await this.startWorkers();
      const records = await this.take(Math.max(1, maxRecords));
      if (records.length > 0 || signal.aborted || this.closed) return records;
      const now = Date.now();
      if (now >= idleUntil) return [];
      await sleep(Math.min(100, idleUntil - now, Math.max(0, this.nextListing - now)), signal);
    }
  }

  private isCurrent(file: Listed): boolean {
    return this.current !== undefined && this.current.path === file.path && this.current.signature === signature(file);
  }

  private async startWorkers(): Promise<void> {
    // The file interrupted by a crash (or by a failed record) goes first, under its ordinal: sequence ids never go back.
    const resumed = this.queue.findIndex((file) => this.isCurrent(file));
    if (resumed > 0) this.queue.unshift(...this.queue.splice(resumed, 1));
    while (this.reading.length < this.config.numWorkers && this.queue.length > 0) {
      // Under EFFECTIVELY_ONCE a file starts only once every record of the one before is stored.
      if (this.effectivelyOnce && this.inProcess.size > 0) return;
      const file = this.queue.shift() as Listed;
      let kind: boolean | "zip";
      try {
        const now = await stat(file.path);
        // Changed since listed: the next listing sees it again, with its age counted anew.
        if (now.size !== file.size || now.mtimeMs !== file.mtimeMs) continue;
        kind = await isGzip(file.path);
      } catch {
        continue; // gone since the listing
      }
      if (kind === "zip") {
        this.skipped.set(file.path, signature(file));
        this.logger.warn({ file: file.path }, "zip archives are not read (gzip files are); the file is left in place");
        continue;
      }
      let ordinal: bigint;
      if (this.isCurrent(file)) {
        ordinal = BigInt((this.current as Current).ordinal);
      } else {
        ordinal = BigInt(this.current?.ordinal ?? "0") + 1n;
        const current: Current = { path: file.path, signature: signature(file), ordinal: String(ordinal) };
        // Stored before the first line is sent, so that a restart gives this file the same sequence ids.
        await this.state.put(CURRENT_KEY, encoder.encode(JSON.stringify(current)));
        this.current = current;
      }
      const work = new FileWork(file, kind, ordinal);
      this.reading.push(work);
      this.inProcess.set(file.path, work);
    }
  }

  /** Lines of the files being read, round robin, as records. */
  private async take(max: number): Promise<SourceRecord[]> {
    const records: SourceRecord[] = [];
    for (const work of [...this.reading]) {
      if (records.length >= max) break;
      const share = Math.max(1, Math.ceil((max - records.length) / this.reading.length));
      let lines: Line[];
      try {
        lines = await work.next(share);
      } catch (error) {
        this.logger.error(
          { file: work.file.path, error: (error as Error).message },
          "cannot read the file; it is left in place and read again once it changes",
        );
        work.unreadable = true;
        work.done = true;
        work.close();
      }
      lines ??= [];
      for (const line of lines) records.push(this.record(work, line));
      if (work.done) {
        this.reading = this.reading.filter((w) => w !== work);
        if (work.complete) this.settle(work);
      }
    }
    return records;
  }

  private record(work: FileWork, line: Line): SourceRecord {
    const name = basename(work.file.path);
    let settled = false;
    const once = (failed: boolean) => {
      if (settled) return;
      settled = true;
      work.settled += 1;
      if (failed) work.failed = true;
      if (work.complete) this.settle(work);
    };
    return {
      value: new Uint8Array(line.bytes.buffer, line.bytes.byteOffset, line.bytes.byteLength),
      key: `${name}_${line.number}`,
      partitionId: this.partitionId,
      sequence: (work.ordinal << LINE_BITS) | BigInt(line.number),
      properties: {
        "file.name": name,
        "file.path": work.file.path,
        "file.modified.time": String(Math.trunc(work.file.mtimeMs)),
      },
      ack: () => once(false),
      fail: () => once(true),
    };
  }

  /** Every record of the file is settled: remove it, or leave it to be read again when one failed. */
  private settle(work: FileWork): void {
    work.close();
    if (work.unreadable) {
      this.inProcess.delete(work.file.path);
      this.skipped.set(work.file.path, signature(work.file));
      return;
    }
    if (work.failed) {
      this.inProcess.delete(work.file.path);
      this.queue.unshift(work.file);
      this.logger.warn({ file: work.file.path }, "a record of the file was not stored; the file is read again");
      return;
    }
    const completion = this.complete(work.file)
      .catch((error: unknown) => {
        this.logger.error({ file: work.file.path, error: (error as Error).message }, "cannot finish a processed file");
        // Not read again by this instance; a restart finishes it from its marker.
        this.processed.set(work.file.path, signature(work.file));
      })
      .finally(() => {
        this.inProcess.delete(work.file.path);
        this.completions.delete(completion);
      });
    this.completions.add(completion);
  }

  private async complete(file: Listed): Promise<void> {
    const now = await stat(file.path).catch(() => undefined);
    if (now === undefined) return;
    if (now.size !== file.size || now.mtimeMs !== file.mtimeMs) {
      this.logger.warn({ file: file.path }, "the file changed while it was read; it is left in place and read again");
      return;
    }
    await this.state.put(markerKey(file.path), encoder.encode(signature(file)));
    if (this.config.keepFile) {
      this.processed.set(file.path, signature(file));
      return;
    }
    await this.remove(file.path);
  }

  /** Deletes or renames a processed file, then drops its marker. */
  private async remove(path: string): Promise<void> {
    if (this.config.processedFileSuffix !== undefined) await rename(path, `${path}${this.config.processedFileSuffix}`);
    else
      await unlink(path).catch((error: NodeJS.ErrnoException) =>
        error.code === "ENOENT" ? undefined : Promise.reject(error),
      );
    await this.state.delete(markerKey(path));
  }

  private async list(): Promise<void> {
    const found: Listed[] = [];
    await this.walk(this.root, found);
    found.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const queued = new Set(this.queue.map((file) => file.path));
    for (const file of found) {
      if (this.inProcess.has(file.path) || queued.has(file.path)) continue;
      const sig = signature(file);
      if (this.processed.get(file.path) === sig || this.skipped.get(file.path) === sig) continue;
      const marker = await this.state.get(markerKey(file.path)).catch(() => undefined);
      if (marker !== undefined && decoder.decode(marker) === sig) {
        // Every line of this version was stored before a restart; only the removal is left.
        if (this.config.keepFile) this.processed.set(file.path, sig);
        else
          await this.remove(file.path).catch((error: Error) => {
            this.logger.error({ file: file.path, error: error.message }, "cannot finish a processed file");
            this.processed.set(file.path, sig);
          });
        continue;
      }
      this.queue.push(file);
    }
  }

  private async walk(dir: string, found: Listed[]): Promise<void> {
    let entries: import("node:fs").Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (dir === this.root) this.logger.warn({ dir, error: (error as Error).message }, "cannot list inputDirectory");
      return;
    }
    const now = Date.now();
    const rel = relative(this.root, dir).split(sep).join("/");
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (this.config.recurse) await this.walk(path, found);
        continue;
      }
      if (!entry.isFile() && !entry.isSymbolicLink()) continue;
      if (this.config.ignoreHiddenFiles && entry.name.startsWith(".")) continue;
      if (!this.fileFilter.test(entry.name)) continue;
      const suffix = this.config.processedFileSuffix;
      if (!this.config.keepFile && suffix !== undefined && entry.name.endsWith(suffix)) continue;
      // Files of a subdirectory whose path does not match are left alone; deeper ones are decided by their own path.
      if (rel !== "" && this.pathFilter !== undefined && !this.pathFilter.test(rel)) continue;
      let info: import("node:fs").Stats;
      try {
        info = await stat(path);
        if (!info.isFile()) continue;
        await access(path, constants.R_OK);
        if (!this.config.keepFile) await access(dirname(path), constants.W_OK);
      } catch {
        continue;
      }
      const age = now - info.mtimeMs;
      if (age < this.config.minimumFileAge) continue;
      if (this.config.maximumFileAge !== undefined && age > this.config.maximumFileAge) continue;
      if (info.size < this.config.minimumSize) continue;
      if (this.config.maximumSize !== undefined && info.size > this.config.maximumSize) continue;
      found.push({ path, size: info.size, mtimeMs: info.mtimeMs });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const work of this.inProcess.values()) work.close();
    await Promise.all([...this.completions]);
  }
}
