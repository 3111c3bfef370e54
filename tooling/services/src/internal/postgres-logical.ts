import { spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { HOST } from "./config.ts";
import type { DatabaseUp } from "./databases.ts";
import type { PostgresEndpoint } from "./endpoints.ts";
import { ServicesError } from "./errors.ts";
import { tcpOpen, waitUntil } from "./probe.ts";
import { isAlive, tailFile } from "./proc.ts";
import { clearState, readState, type ServiceState, serviceDir, writeState } from "./state.ts";

const NAME = "postgres-logical";
const DATABASE = "test";

/**
 * A private PostgreSQL cluster with `wal_level=logical` (change-data-capture tests need replication slots, which the
 * shared server may not allow): initdb + pg_ctl of the newest Debian PostgreSQL binaries, data under
 * `.run/services/postgres-logical/data`, trust authentication on loopback only.
 */
export function postgresLogicalEndpoint(port: number): PostgresEndpoint {
  return {
    host: HOST,
    port,
    user: "postgres",
    database: DATABASE,
    connectionString: `postgres://postgres@${HOST}:${port}/${DATABASE}`,
  };
}

function binDir(): string | undefined {
  const base = "/usr/lib/postgresql";
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, "bin", "pg_ctl")))
    .sort((a, b) => Number(a) - Number(b));
  const newest = versions.at(-1);
  return newest ? join(base, newest, "bin") : undefined;
}

const isRoot = () => process.getuid?.() === 0;

/** Runs a PostgreSQL binary; as root it runs as the `postgres` user (the server refuses to run as root). */
function runPg(bin: string, args: readonly string[]): { ok: boolean; output: string } {
  const [command, fullArgs] = isRoot() ? ["runuser", ["-u", "postgres", "--", bin, ...args]] : [bin, args];
  const result = spawnSync(command as string, fullArgs as string[], { encoding: "utf8" });
  return {
    ok: result.status === 0,
    output: `${result.stdout ?? ""}${result.stderr ?? ""}${result.error?.message ?? ""}`,
  };
}

function installBinaries(): void {
  if (!isRoot()) {
    throw new ServicesError(
      "NOT_INSTALLED",
      `${NAME}: no PostgreSQL binaries under /usr/lib/postgresql/*/bin. Install them with ` +
        "`sudo apt-get install -y postgresql` (or run this command as root, which installs them).",
    );
  }
  process.stderr.write(`${NAME}: installing postgresql (apt-get)\n`);
  spawnSync("apt-get", ["update"], { stdio: ["ignore", "inherit", "inherit"] });
  spawnSync("apt-get", ["install", "-y", "postgresql"], {
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
}

/** Gives the folder to the `postgres` user when running as root. */
function ownFolder(path: string): void {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  if (!isRoot()) return;
  const id = spawnSync("id", ["-u", "postgres"], { encoding: "utf8" });
  const gid = spawnSync("id", ["-g", "postgres"], { encoding: "utf8" });
  if (id.status !== 0) {
    throw new ServicesError("SETUP_FAILED", `${NAME}: running as root, but there is no \`postgres\` user to run as`);
  }
  chownSync(path, Number(id.stdout.trim()), Number(gid.stdout.trim()));
}

export async function upPostgresLogical(port: number): Promise<DatabaseUp<PostgresEndpoint>> {
  const endpoint = postgresLogicalEndpoint(port);
  const previous = readState(NAME);
  if (previous && previous.pid > 0 && isAlive(previous.pid, "postgres") && (await postgresLogicalHealthy(port))) {
    return { endpoint, action: "reused", state: previous };
  }
  if (await tcpOpen(HOST, port)) {
    if (!(await postgresLogicalHealthy(port))) {
      throw new ServicesError(
        "PORT_IN_USE",
        `${NAME}: something that is not a PostgreSQL server with wal_level=logical answers on ${HOST}:${port}; ` +
          "pick another port with PG_LOGICAL_PORT",
      );
    }
    return { endpoint, action: "external" };
  }
  if (!binDir()) installBinaries();
  const bin = binDir();
  if (!bin) throw new ServicesError("NOT_INSTALLED", `${NAME}: no pg_ctl under /usr/lib/postgresql after install`);
  const root = serviceDir(NAME);
  const data = join(root, "data");
  const logFile = join(root, "postgres.log");
  mkdirSync(root, { recursive: true });
  ownFolder(join(root, "socket"));
  if (!existsSync(join(data, "PG_VERSION"))) {
    ownFolder(data);
    const init = runPg(join(bin, "initdb"), ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]);
    if (!init.ok) throw new ServicesError("START_FAILED", `${NAME}: initdb failed:\n${init.output}`);
  }
  spawnSync("touch", [logFile]);
  if (isRoot()) spawnSync("chown", ["postgres", logFile]);
  const options = [
    `-p ${port}`,
    `-c listen_addresses=${HOST}`,
    `-c unix_socket_directories=${join(root, "socket")}`,
    "-c wal_level=logical",
    "-c max_replication_slots=64",
    "-c max_wal_senders=64",
    "-c max_connections=200",
    "-c fsync=on",
  ].join(" ");
  const started = Date.now();
  const start = runPg(join(bin, "pg_ctl"), ["-D", data, "-l", logFile, "-o", options, "-w", "-t", "60", "start"]);
  if (!start.ok) {
    throw new ServicesError(
      "START_FAILED",
      `${NAME}: pg_ctl start failed:\n${start.output}\n${await tailFile(logFile)}`,
    );
  }
  const outcome = await waitUntil(() => postgresLogicalHealthy(port), { timeoutMs: 60_000, intervalMs: 300 });
  if (!outcome.ready) {
    throw new ServicesError("NOT_READY", `${NAME}: ${outcome.reason} on ${HOST}:${port}\n${await tailFile(logFile)}`);
  }
  const pid = Number(readFileSync(join(data, "postmaster.pid"), "utf8").split("\n")[0]);
  const state: ServiceState = {
    name: NAME,
    pid,
    marker: "postgres",
    managedBy: "pg_ctl",
    ports: { port },
    startedAt: new Date(started).toISOString(),
    readyAt: new Date().toISOString(),
    startMs: Date.now() - started,
    logFile,
    detail: bin,
  };
  writeState(state);
  return { endpoint, action: "started", state };
}

/** Healthy = answers, has the `test` database (created when missing) and runs with wal_level=logical. */
export async function postgresLogicalHealthy(port: number): Promise<boolean> {
  const pg = (await import("pg")).default;
  const client = new pg.Client({
    host: HOST,
    port,
    user: "postgres",
    database: "postgres",
    connectionTimeoutMillis: 3_000,
  });
  try {
    await client.connect();
    const wal = await client.query<{ wal_level: string }>("SHOW wal_level");
    if (wal.rows[0]?.wal_level !== "logical") return false;
    const db = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [DATABASE]);
    if (db.rowCount === 0) await client.query(`CREATE DATABASE ${DATABASE}`);
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

export async function stopPostgresLogical(state: ServiceState): Promise<void> {
  const root = serviceDir(NAME);
  if (state.detail) {
    const pgCtl = join(state.detail, "pg_ctl");
    // A logical replication client that has not confirmed everything it was sent holds a fast shutdown back.
    const fast = runPg(pgCtl, ["-D", join(root, "data"), "-m", "fast", "-w", "-t", "15", "stop"]);
    if (!fast.ok) runPg(pgCtl, ["-D", join(root, "data"), "-m", "immediate", "-w", "stop"]);
  }
  clearState(NAME);
}
