import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { HOST } from "./config.ts";
import type { MariadbEndpoint, PostgresEndpoint } from "./endpoints.ts";
import { ServicesError } from "./errors.ts";
import { tcpOpen, waitUntil } from "./probe.ts";
import { isAlive, stopProcess } from "./proc.ts";
import { clearState, readState, type ServiceState, writeState } from "./state.ts";

export const TEST_DATABASE = "test";

const isRoot = () => process.getuid?.() === 0;

function run(command: string, args: readonly string[], what: string): void {
  const result = spawnSync(command, args, { stdio: ["ignore", "inherit", "inherit"] });
  if (result.status !== 0) {
    throw new ServicesError(
      "START_FAILED",
      `${what}: \`${command} ${args.join(" ")}\` failed (${result.error?.message ?? `exit ${result.status}`})`,
      { cause: result.error },
    );
  }
}

export function aptInstall(pkg: string, what: string, runningOn: string): void {
  if (!isRoot()) {
    throw new ServicesError(
      "NOT_INSTALLED",
      `${what}: nothing answers on ${runningOn} and ${pkg} is not installed. Install it with ` +
        `\`sudo apt-get install -y ${pkg}\` (or run this command as root, which installs it), or point the ` +
        `tests at your own server with the port variable.`,
    );
  }
  process.stderr.write(`${what}: installing ${pkg} (apt-get)\n`);
  run("apt-get", ["update"], what);
  spawnSync("apt-get", ["install", "-y", pkg], {
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
}

export interface DatabaseUp<E> {
  endpoint: E;
  /** "external" when something else already served the port: it is never stopped by us. */
  action: "started" | "reused" | "external";
  state?: ServiceState;
}

// ---------------------------------------------------------------------------------------------- PostgreSQL

export function postgresEndpoint(port: number): PostgresEndpoint {
  return {
    host: HOST,
    port,
    user: "postgres",
    database: TEST_DATABASE,
    connectionString: `postgres://postgres@${HOST}:${port}/${TEST_DATABASE}`,
  };
}

function postgresVersions(): string[] {
  return existsSync("/etc/postgresql") ? readdirSync("/etc/postgresql").sort((a, b) => Number(a) - Number(b)) : [];
}

/** Fresh Debian clusters ask TCP clients for a password; tests connect over loopback with trust. */
function trustLoopback(version: string): void {
  const path = `/etc/postgresql/${version}/main/pg_hba.conf`;
  if (!existsSync(path)) return;
  const text = readFileSync(path, "utf8");
  const trusted = text.replace(
    /^(host\s+all\s+all\s+(?:127\.0\.0\.1\/32|::1\/128)\s+)\S+\s*$/gm,
    (_line, prefix: string) => `${prefix}trust`,
  );
  if (trusted !== text) writeFileSync(path, trusted);
}

export async function upPostgres(port: number): Promise<DatabaseUp<PostgresEndpoint>> {
  const endpoint = postgresEndpoint(port);
  const previous = readState("postgres");
  if (await tcpOpen(HOST, port)) {
    await preparePostgres(port);
    const ours = previous !== undefined && isAlive(previous.pid);
    return ours ? { endpoint, action: "reused", state: previous } : { endpoint, action: "external" };
  }
  const what = "postgres";
  if (!existsSync("/usr/bin/pg_ctlcluster") || postgresVersions().length === 0) {
    aptInstall("postgresql", what, `${HOST}:${port}`);
  }
  const version = postgresVersions().at(-1);
  if (!version || !existsSync("/usr/bin/pg_ctlcluster")) {
    throw new ServicesError("NOT_INSTALLED", `${what}: no PostgreSQL cluster under /etc/postgresql after install`);
  }
  if (isRoot()) trustLoopback(version);
  const started = Date.now();
  run("pg_ctlcluster", ["--skip-systemctl-redirect", version, "main", "start"], what);
  const outcome = await waitUntil(() => tcpOpen(HOST, port), { timeoutMs: 60_000, intervalMs: 500 });
  if (!outcome.ready) {
    throw new ServicesError(
      "NOT_READY",
      `${what}: cluster ${version}/main started but nothing answers on ${HOST}:${port} ` +
        `(check \`port\` in /etc/postgresql/${version}/main/postgresql.conf and /var/log/postgresql/)`,
    );
  }
  const pidFile = `/var/lib/postgresql/${version}/main/postmaster.pid`;
  const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, "utf8").split("\n")[0]) : 0;
  const state: ServiceState = {
    name: "postgres",
    pid,
    managedBy: "pg_ctlcluster",
    ports: { port },
    startedAt: new Date(started).toISOString(),
    readyAt: new Date().toISOString(),
    startMs: Date.now() - started,
    detail: version,
  };
  writeState(state);
  await preparePostgres(port);
  return { endpoint, action: "started", state };
}

/** Makes sure the `test` database and a `root` role exist (tests connect as postgres or root). */
async function preparePostgres(port: number): Promise<void> {
  const pg = (await import("pg")).default;
  const client = new pg.Client({
    host: HOST,
    port,
    user: "postgres",
    database: "postgres",
    connectionTimeoutMillis: 5_000,
  });
  try {
    await client.connect();
  } catch (error) {
    throw new ServicesError(
      "SETUP_FAILED",
      `postgres: cannot connect to ${HOST}:${port} as user postgres without a password (${(error as Error).message}). ` +
        `Tests need \`host all all 127.0.0.1/32 trust\` in pg_hba.conf.`,
      { cause: error },
    );
  }
  try {
    const role = await client.query("SELECT 1 FROM pg_roles WHERE rolname = 'root'");
    if (role.rowCount === 0) await client.query("CREATE ROLE root WITH LOGIN SUPERUSER");
    const db = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [TEST_DATABASE]);
    if (db.rowCount === 0) await client.query(`CREATE DATABASE ${TEST_DATABASE}`);
  } finally {
    await client.end();
  }
}

export async function postgresHealthy(port: number): Promise<boolean> {
  const pg = (await import("pg")).default;
  const client = new pg.Client({
    host: HOST,
    port,
    user: "postgres",
    database: TEST_DATABASE,
    connectionTimeoutMillis: 3_000,
  });
  try {
    await client.connect();
    const result = await client.query("SELECT 1 AS ok");
    return result.rows[0]?.ok === 1;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

export async function stopPostgres(state: ServiceState): Promise<void> {
  if (state.detail) run("pg_ctlcluster", ["--skip-systemctl-redirect", state.detail, "main", "stop"], "postgres");
  clearState("postgres");
}

// ------------------------------------------------------------------------------------------------- MariaDB

const MARIADBD = "/usr/sbin/mariadbd";

export function mariadbEndpoint(port: number): MariadbEndpoint {
  return { host: HOST, port, user: "root", password: "", database: TEST_DATABASE };
}

export async function upMariadb(port: number): Promise<DatabaseUp<MariadbEndpoint>> {
  const endpoint = mariadbEndpoint(port);
  const previous = readState("mariadb");
  if (await tcpOpen(HOST, port)) {
    await prepareMariadb(port);
    const ours = previous !== undefined && isAlive(previous.pid, "mariadbd");
    return ours ? { endpoint, action: "reused", state: previous } : { endpoint, action: "external" };
  }
  const what = "mariadb";
  if (!existsSync(MARIADBD)) aptInstall("mariadb-server", what, `${HOST}:${port}`);
  if (!existsSync(MARIADBD)) throw new ServicesError("NOT_INSTALLED", `${what}: ${MARIADBD} missing after install`);
  const started = Date.now();
  if (isRoot()) {
    mkdirSync("/run/mysqld", { recursive: true });
    spawnSync("chown", ["mysql:mysql", "/run/mysqld"]);
  }
  run(
    "start-stop-daemon",
    ["--start", "--oknodo", "--background", "--exec", MARIADBD, "--", `--port=${port}`, `--bind-address=${HOST}`],
    what,
  );
  const outcome = await waitUntil(() => tcpOpen(HOST, port), { timeoutMs: 60_000, intervalMs: 500 });
  if (!outcome.ready) {
    throw new ServicesError(
      "NOT_READY",
      `${what}: started ${MARIADBD} but nothing answers on ${HOST}:${port} (see /var/log/mysql/)`,
    );
  }
  const found = spawnSync("pidof", ["mariadbd"], { encoding: "utf8" }).stdout.trim().split(/\s+/)[0];
  const state: ServiceState = {
    name: "mariadb",
    pid: Number(found ?? 0),
    marker: "mariadbd",
    managedBy: "mariadbd",
    ports: { port },
    startedAt: new Date(started).toISOString(),
    readyAt: new Date().toISOString(),
    startMs: Date.now() - started,
  };
  writeState(state);
  await prepareMariadb(port);
  return { endpoint, action: "started", state };
}

async function mariadbConnect(port: number) {
  const mysql = (await import("mysql2/promise")).default;
  return mysql.createConnection({ host: HOST, port, user: "root", password: "", connectTimeout: 5_000 });
}

/** Root with an empty password over TCP and a `test` database; Debian's root only allows the unix socket. */
async function prepareMariadb(port: number): Promise<void> {
  let connection: Awaited<ReturnType<typeof mariadbConnect>>;
  try {
    connection = await mariadbConnect(port);
  } catch (error) {
    if (!isRoot() || (error as { code?: string }).code !== "ER_ACCESS_DENIED_ERROR") {
      throw new ServicesError(
        "SETUP_FAILED",
        `mariadb: cannot connect to ${HOST}:${port} as root with an empty password (${(error as Error).message})`,
        { cause: error },
      );
    }
    run(
      "mariadb",
      [
        "-uroot",
        "-e",
        "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('') OR unix_socket; FLUSH PRIVILEGES;",
      ],
      "mariadb",
    );
    connection = await mariadbConnect(port);
  }
  try {
    await connection.query(`CREATE DATABASE IF NOT EXISTS ${TEST_DATABASE}`);
  } finally {
    await connection.end();
  }
}

export async function mariadbHealthy(port: number): Promise<boolean> {
  try {
    const connection = await mariadbConnect(port);
    try {
      const [rows] = await connection.query("SELECT 1 AS ok");
      return (rows as Array<{ ok: number }>)[0]?.ok === 1;
    } finally {
      await connection.end();
    }
  } catch {
    return false;
  }
}

export async function stopMariadb(state: ServiceState): Promise<void> {
  if (state.pid > 0) await stopProcess(state.pid, state.marker, 30_000);
  clearState("mariadb");
}
