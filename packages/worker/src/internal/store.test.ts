import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ResolvedSinkConfig } from "@pulsar-connect/runtime";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FileStore, ownStamp, processStartTime } from "./store.ts";

// The store on a real file system; a child process stands for "another worker" holding the data folder.
let dataDir: string;
let stores: FileStore[];
let children: ChildProcess[];

function store(): FileStore {
  const created = new FileStore(dataDir);
  stores.push(created);
  return created;
}

function lockWith(content: string): void {
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(join(dataDir, "worker.lock"), content);
}

/** A live process that is not this one. */
async function otherProcess(): Promise<number> {
  const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
  children.push(child);
  await new Promise((done) => child.once("spawn", done));
  return child.pid as number;
}

beforeEach(() => {
  dataDir = join(mkdtempSync(join(tmpdir(), "pulsar-connect-store-")), "data");
  stores = [];
  children = [];
});

afterEach(async () => {
  for (const each of stores) await each.release();
  for (const child of children) child.kill("SIGKILL");
  rmSync(join(dataDir, ".."), { recursive: true, force: true });
});

describe("data folder lock", () => {
  it("takes over a lock that carries this process's own PID (a container restarted with the same PID)", async () => {
    lockWith(`${process.pid}\n`);
    await store().init();
    expect(JSON.parse(readFileSync(join(dataDir, "worker.lock"), "utf8"))).toMatchObject({ pid: process.pid });
  });

  it("takes over a lock whose PID now belongs to another process (other start time or other boot)", async () => {
    const pid = await otherProcess();
    const own = ownStamp();
    const startTime = processStartTime(pid);
    expect(startTime, "this test needs /proc").toBeDefined();
    lockWith(JSON.stringify({ pid, bootId: own.bootId, startTime: `${startTime}1` }));
    await store().init();
    await stores[0]?.release();
    lockWith(JSON.stringify({ pid, bootId: "another-boot", startTime }));
    await store().init();
  });

  it("refuses a folder held by a live worker (stamp or bare PID), and one this process already holds", async () => {
    const pid = await otherProcess();
    const own = ownStamp();
    lockWith(JSON.stringify({ pid, bootId: own.bootId, startTime: processStartTime(pid) }));
    await expect(store().init()).rejects.toThrow(`used by another worker (process ${pid})`);
    lockWith(`${pid}\n`);
    await expect(store().init()).rejects.toThrow(`used by another worker (process ${pid})`);
    rmSync(join(dataDir, "worker.lock"));
    const first = store();
    await first.init();
    await expect(store().init()).rejects.toThrow(`(this process (${process.pid}))`);
    await first.release();
    await store().init();
  });

  it("takes over the lock of a dead process", async () => {
    const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
    const pid = child.pid as number;
    await new Promise((done) => child.once("exit", done));
    lockWith(`${pid}\n`);
    await store().init();
  });

  it("takes over the lock of a killed worker that is a zombie not yet reaped (its parent died with it)", async () => {
    // `sleep 0` exits at once and its parent, now `sleep 30`, never reaps it: a zombie that kill(pid, 0) still finds.
    const parent = spawn("sh", ["-c", "sleep 0 & echo $!; exec sleep 30"], { stdio: ["ignore", "pipe", "ignore"] });
    children.push(parent);
    const pid = Number(await new Promise<string>((done) => parent.stdout?.once("data", (data) => done(String(data)))));
    await expect
      .poll(() => readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0], { timeout: 5_000 })
      .toBe("Z");
    lockWith(JSON.stringify({ pid, bootId: ownStamp().bootId, startTime: processStartTime(pid) }));
    await store().init();
    expect(JSON.parse(readFileSync(join(dataDir, "worker.lock"), "utf8"))).toMatchObject({ pid: process.pid });
  });
});

describe("store files", () => {
  it("removes temporary files a crash left behind, and never leaves its own", async () => {
    mkdirSync(join(dataDir, "connectors"), { recursive: true });
    writeFileSync(join(dataDir, "connectors", "sink~public~default~a.json.4242.1.tmp"), "{");
    const opened = store();
    await opened.init();
    expect(readdirSync(join(dataDir, "connectors"))).toEqual([]);
    const config = { tenant: "public", namespace: "default", name: "a" } as ResolvedSinkConfig;
    await opened.save({ kind: "sink", config, stoppedInstances: [1] });
    expect(readdirSync(join(dataDir, "connectors"))).toEqual(["sink~public~default~a.json"]);
    expect((await opened.loadAll()).entries).toEqual([{ kind: "sink", config, stoppedInstances: [1] }]);
    await opened.remove("sink", "public", "default", "a");
    expect(existsSync(join(dataDir, "connectors", "sink~public~default~a.json"))).toBe(false);
  });
});
