// Java side of the interop tests: resolves Apache Pulsar's jars through tooling/services (Maven, once), and runs
// test/java/*.java with Java's single-file source launcher. Nothing here skips: without Java or the jars the tests
// fail with the reason.
import { type ChildProcessByStdio, execFile, spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import type { Readable, Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { inject } from "vitest";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const jarsRoot = process.env.PC_SERVICES_JARS ?? `${repoRoot}.run/jars`;
const run = promisify(execFile);

let classpath: string | undefined;

/** The Pulsar classpath (`<lib>/*`), fetched from Maven by tooling/services when it is not there yet. */
export function pulsarClasspath(): string {
  if (classpath) return classpath;
  const lib = `${jarsRoot}/pulsar/lib`;
  const fetched = spawnSync("bash", [`${repoRoot}tooling/services/fetch-jars.sh`, "pulsar"], {
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, PC_SERVICES_JARS: jarsRoot },
  });
  if (fetched.status !== 0 || !existsSync(lib)) {
    throw new Error(`cannot resolve the Pulsar jars into ${lib} (fetch-jars.sh exit ${fetched.status})`);
  }
  const java = spawnSync("java", ["-version"], { encoding: "utf8" });
  if (java.status !== 0) throw new Error(`the Java interop tests need \`java\` (17+) on PATH: ${java.error ?? ""}`);
  classpath = `${lib}/*`;
  return classpath;
}

function source(name: string): string {
  return fileURLToPath(new URL(`./java/${name}.java`, import.meta.url));
}

/** The broker the Java side talks to. No import of this package's sources: other packages' tests use this file. */
function serviceUrl(): string {
  return inject("services")?.pulsar?.serviceUrl ?? "pulsar://127.0.0.1:6650";
}

/** Runs test/java/Interop.java once; returns its RESULT lines split at tabs (without the RESULT column). */
export async function interop(...args: string[]): Promise<string[][]> {
  const { stdout } = await run("java", ["-cp", pulsarClasspath(), source("Interop"), serviceUrl(), ...args], {
    timeout: 180_000,
    maxBuffer: 256 * 1024 * 1024,
  });
  return stdout
    .split("\n")
    .filter((line) => line.startsWith("RESULT\t"))
    .map((line) => line.split("\t").slice(1));
}

export type WireCodec = "NONE" | "LZ4" | "ZLIB" | "ZSTD" | "SNAPPY";
const WIRE: Record<WireCodec, number> = { NONE: 0, LZ4: 1, ZLIB: 2, ZSTD: 3, SNAPPY: 4 };

export class JavaCodecError extends Error {}

/** One long-lived JVM running test/java/CodecHelper.java: the Java client's own codec classes. */
export class JavaCodecs {
  private readonly proc: ChildProcessByStdio<Writable, Readable, Readable>;
  private readonly pending: Array<{ resolve: (b: Buffer) => void; reject: (e: Error) => void }> = [];
  private buffered: Buffer = Buffer.alloc(0);
  private failure: Error | undefined;
  private stderr = "";

  private constructor(proc: ChildProcessByStdio<Writable, Readable, Readable>) {
    this.proc = proc;
    proc.stdout.on("data", (chunk: Buffer) => this.onData(chunk));
    proc.on("exit", (code) => this.fail(new Error(`Java codec helper exited (${code}): ${this.stderr.slice(-2000)}`)));
  }

  static async start(): Promise<JavaCodecs> {
    const proc = spawn("java", ["-Xmx1g", "-cp", pulsarClasspath(), source("CodecHelper")], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    const helper = new JavaCodecs(proc);
    await new Promise<void>((resolve, reject) => {
      proc.stderr.on("data", (chunk: Buffer) => {
        helper.stderr += chunk.toString();
        if (helper.stderr.includes("READY")) resolve();
      });
      proc.on("exit", () => reject(new Error(`Java codec helper did not start: ${helper.stderr.slice(-2000)}`)));
    });
    return helper;
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const p of this.pending.splice(0)) p.reject(err);
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    while (this.buffered.length >= 5) {
      const length = this.buffered.readInt32BE(1);
      if (this.buffered.length < 5 + length) return;
      const status = this.buffered[0];
      const body = this.buffered.subarray(5, 5 + length);
      this.buffered = this.buffered.subarray(5 + length);
      const p = this.pending.shift();
      if (!p) continue;
      if (status === 0) p.resolve(Buffer.from(body));
      else p.reject(new JavaCodecError(body.toString()));
    }
  }

  private request(op: "C" | "D", codec: WireCodec, uncompressedSize: number, payload: Uint8Array): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure);
    const head = Buffer.alloc(10);
    head[0] = op.charCodeAt(0);
    head[1] = WIRE[codec];
    head.writeInt32BE(uncompressedSize, 2);
    head.writeInt32BE(payload.length, 6);
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.proc.stdin.write(head);
      this.proc.stdin.write(payload);
    });
  }

  compress(codec: WireCodec, data: Uint8Array): Promise<Buffer> {
    return this.request("C", codec, data.length, data);
  }

  decompress(codec: WireCodec, data: Uint8Array, uncompressedSize: number): Promise<Buffer> {
    return this.request("D", codec, uncompressedSize, data);
  }

  async close(): Promise<void> {
    if (this.proc.exitCode !== null) return;
    const exited = new Promise((resolve) => this.proc.once("exit", resolve));
    this.proc.stdin.end();
    await exited;
  }
}
