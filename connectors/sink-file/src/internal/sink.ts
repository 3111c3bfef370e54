import { constants } from "node:fs";
import { type FileHandle, link, mkdir, open, readdir, stat, unlink } from "node:fs/promises";
import { join, resolve } from "node:path";
import {
  ConnectorError,
  type Logger,
  type RecordFailure,
  type SinkContext,
  type SinkInstance,
  type SinkRecord,
  type WriteOutcome,
} from "@pulsar-connect/core";
import type { FileSinkConfig } from "../definition.ts";
import { recordLine } from "./lines.ts";

/** The file being written: hidden while in progress, renamed to its final name when finished. */
interface OpenFile {
  handle: FileHandle;
  path: string;
  size: number;
  startedAt: number;
}

const stamp = (time: number) => new Date(time).toISOString().replace(/[-:.]/g, "");

async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function ioError(error: unknown, what: string): ConnectorError {
  const code = (error as NodeJS.ErrnoException).code;
  // A full disk or a lost mount may pass; the runtime retries with backoff and its status says why.
  return new ConnectorError("WRITE_FAILED", `${what}: ${code ?? (error as Error).message}`, {
    retryable: true,
    cause: error,
  });
}

/**
 * Appends each batch, one line per record, to an in-progress file (`.pc-<instance>.<name>.inprogress`), fsyncs it
 * before `write` resolves (so before any record of the batch is acknowledged), and gives a file its final name once
 * it reached `rollSizeBytes` or `rollIntervalMs`. A finished file only ever holds whole lines: after a crash, the
 * instance cuts its in-progress file back to the last line end (the cut line was never acknowledged, so it comes
 * again) and finishes it.
 */
export class FileSink implements SinkInstance {
  private readonly config: FileSinkConfig;
  private readonly logger: Logger;
  private readonly dir: string;
  private readonly instanceId: number;
  private current: OpenFile | undefined;
  private counter = 0;
  /** Writes, rolls and close run one after another. */
  private tail: Promise<unknown> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;

  private constructor(config: FileSinkConfig, context: SinkContext, dir: string) {
    this.config = config;
    this.logger = context.logger;
    this.dir = dir;
    this.instanceId = context.instanceId;
    this.timer = setInterval(
      () => {
        void this.serial(() => this.rollIfDue()).catch((error: unknown) =>
          this.logger.error({ error: (error as Error).message }, "cannot finish a file on time; retried"),
        );
      },
      Math.min(1_000, config.rollIntervalMs),
    );
    this.timer.unref();
  }

  static async open(config: FileSinkConfig, context: SinkContext): Promise<FileSink> {
    if (context.processingGuarantee === "EFFECTIVELY_ONCE") {
      throw new ConnectorError(
        "UNSUPPORTED",
        "the file sink does not support EFFECTIVELY_ONCE (a batch written before a crash is written again); use ATLEAST_ONCE",
        { retryable: false },
      );
    }
    const dir = resolve(config.directory);
    try {
      await mkdir(dir, { recursive: true });
      if (!(await stat(dir)).isDirectory()) throw new Error("not a directory");
    } catch (error) {
      throw new ConnectorError("INVALID_CONFIG", `directory cannot be used: ${(error as Error).message}`, {
        retryable: false,
        issues: [{ path: "configs.directory", message: `cannot be used: ${(error as Error).message}` }],
      });
    }
    const sink = new FileSink(config, context, dir);
    try {
      await sink.recover();
    } catch (error) {
      clearInterval(sink.timer);
      throw ioError(error, `cannot finish the files a previous run left in ${dir}`);
    }
    return sink;
  }

  private serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.tail.then(task, task);
    this.tail = run.catch(() => {});
    return run;
  }

  private get ownPrefix(): string {
    return `.pc-${this.instanceId}.`;
  }

  /** Finishes the in-progress files a killed run of this instance left, cut back to their last whole line. */
  private async recover(): Promise<void> {
    for (const name of await readdir(this.dir)) {
      if (!name.startsWith(this.ownPrefix) || !name.endsWith(".inprogress")) continue;
      const path = join(this.dir, name);
      const handle = await open(path, "r+");
      try {
        const { size } = await handle.stat();
        const keep = await FileSink.wholeLinesLength(handle, size);
        if (keep < size) {
          await handle.truncate(keep);
          this.logger.warn({ file: path, dropped: size - keep }, "cut an unfinished last line left by a crash");
        }
        await handle.sync();
        if (keep === 0) {
          await handle.close();
          await unlink(path);
          continue;
        }
      } finally {
        await handle.close().catch(() => {});
      }
      await this.publish(path, name.slice(this.ownPrefix.length, -".inprogress".length));
    }
    await fsyncDirectory(this.dir);
  }

  /** Length of the file up to and including its last \n. */
  private static async wholeLinesLength(handle: FileHandle, size: number): Promise<number> {
    const block = Buffer.alloc(64 * 1024);
    let end = size;
    while (end > 0) {
      const start = Math.max(0, end - block.length);
      const { bytesRead } = await handle.read(block, 0, end - start, start);
      const at = block.subarray(0, bytesRead).lastIndexOf(0x0a);
      if (at >= 0) return start + at + 1;
      end = start;
    }
    return 0;
  }

  private finalName(startedAt: number, counter: number): string {
    return this.config.fileNamePattern.replace(/%([itn%])/g, (_m, key: string) =>
      key === "i" ? String(this.instanceId) : key === "t" ? stamp(startedAt) : key === "n" ? String(counter) : "%",
    );
  }

  /** Gives an in-progress file its final name without ever replacing a file (link fails on an existing name). */
  private async publish(path: string, wanted: string): Promise<string> {
    let name = wanted;
    for (let attempt = 0; ; attempt++) {
      try {
        await link(path, join(this.dir, name));
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 1000) throw error;
        name = `${wanted}.${attempt + 1}`;
      }
    }
    await unlink(path);
    return name;
  }

  private async start(): Promise<OpenFile> {
    const startedAt = Date.now();
    for (;;) {
      const name = this.finalName(startedAt, this.counter++);
      const path = join(this.dir, `${this.ownPrefix}${name}.inprogress`);
      // A name already taken (a file of an earlier run) is skipped; publish() still never replaces one.
      if (
        await stat(join(this.dir, name)).then(
          () => true,
          () => false,
        )
      )
        continue;
      try {
        const handle = await open(path, "wx");
        await fsyncDirectory(this.dir);
        return { handle, path, size: 0, startedAt };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
    }
  }

  private async finish(file: OpenFile): Promise<void> {
    this.current = undefined;
    await file.handle.sync();
    await file.handle.close();
    const wanted = file.path.slice(join(this.dir, this.ownPrefix).length, -".inprogress".length);
    const name = await this.publish(file.path, wanted);
    await fsyncDirectory(this.dir);
    this.logger.debug?.({ file: name, bytes: file.size }, "finished file");
  }

  private async rollIfDue(): Promise<void> {
    const file = this.current;
    if (file !== undefined && Date.now() - file.startedAt >= this.config.rollIntervalMs) await this.finish(file);
  }

  async write(records: SinkRecord[]): Promise<WriteOutcome | undefined> {
    const failed: RecordFailure[] = [];
    const lines: Buffer[] = [];
    for (const [index, record] of records.entries()) {
      const line = recordLine(record, this.config.format);
      if (line instanceof ConnectorError) failed.push({ index, error: line });
      else lines.push(line);
    }
    if (lines.length > 0) {
      await this.serial(async () => {
        try {
          await this.rollIfDue();
          this.current ??= await this.start();
          const file = this.current;
          const data = Buffer.concat(lines);
          // Written at the known end of the acknowledged lines.
          let written = 0;
          while (written < data.length) {
            const { bytesWritten } = await file.handle.write(data, written, data.length - written, file.size + written);
            written += bytesWritten;
          }
          await file.handle.datasync();
          file.size += data.length;
          if (file.size >= this.config.rollSizeBytes) await this.finish(file);
        } catch (error) {
          // Nothing of a failed write stays behind the last acknowledged byte.
          await this.current?.handle.truncate(this.current.size).catch(() => {});
          throw ioError(error, `cannot write to ${this.dir}`);
        }
      });
    }
    return failed.length === 0 ? undefined : { failed };
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.serial(async () => {
      if (this.current !== undefined) await this.finish(this.current);
    });
  }
}
