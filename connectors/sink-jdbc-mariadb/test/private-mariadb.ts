// A MariaDB server of a test's own, for server settings a shared server must keep (max_allowed_packet).
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mysql from "mysql2/promise";

const MARIADBD = "/usr/sbin/mariadbd";
const INSTALL_DB = "mariadb-install-db";

export interface PrivateMariadb {
  readonly port: number;
  connect(): Promise<mysql.Connection>;
  stop(): Promise<void>;
}

/** A port nobody listens on; `MARIADB_PRIVATE_PORT` chooses it instead. */
async function freePort(): Promise<number> {
  const chosen = Number(process.env.MARIADB_PRIVATE_PORT);
  if (Number.isInteger(chosen) && chosen > 0) return chosen;
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const address = server.address();
  await new Promise<void>((done) => server.close(() => done()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

/** Starts mariadbd on a data directory of its own with `options` (`--name=value`) and a `test` database. */
export async function startPrivateMariadb(options: readonly string[]): Promise<PrivateMariadb> {
  const dir = mkdtempSync(join(tmpdir(), "pc-mariadb-"));
  const asRoot = process.getuid?.() === 0 ? ["--user=root"] : [];
  const install = spawnSync(
    INSTALL_DB,
    ["--no-defaults", `--datadir=${dir}/data`, "--auth-root-authentication-method=normal", "--skip-test-db", ...asRoot],
    { encoding: "utf8" },
  );
  if (install.status !== 0) throw new Error(`${INSTALL_DB} failed: ${install.stderr}`);
  const port = await freePort();
  const server: ChildProcess = spawn(
    MARIADBD,
    [
      "--no-defaults",
      `--datadir=${dir}/data`,
      `--socket=${dir}/mariadb.sock`,
      `--pid-file=${dir}/mariadb.pid`,
      `--port=${port}`,
      "--bind-address=127.0.0.1",
      "--skip-log-bin",
      "--innodb-buffer-pool-size=32M",
      ...asRoot,
      ...options,
    ],
    { stdio: "ignore" },
  );
  const connect = () => mysql.createConnection({ host: "127.0.0.1", port, user: "root", password: "" });
  const stop = async () => {
    if (server.exitCode === null) {
      const exited = new Promise((done) => server.once("exit", done));
      server.kill("SIGTERM");
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  for (let waited = 0; ; waited += 200) {
    try {
      const connection = await connect();
      await connection.query("CREATE DATABASE IF NOT EXISTS test");
      await connection.end();
      break;
    } catch (error) {
      if (waited > 30_000 || server.exitCode !== null) {
        await stop();
        throw new Error(`the private mariadbd did not start on port ${port}`, { cause: error });
      }
      await new Promise((done) => setTimeout(done, 200));
    }
  }
  return { port, connect, stop };
}
