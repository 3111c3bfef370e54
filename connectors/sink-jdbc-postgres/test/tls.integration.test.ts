import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TLSSocket } from "node:tls";
import { parseDatabaseUrl } from "@pulsar-connect/jdbc-common";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import jdbcPostgresSink from "../src/index.ts";
import { postgresDialect } from "../src/internal/dialect.ts";

const endpoint = inject("services").postgres;
const host = endpoint?.host ?? "127.0.0.1";
const port = endpoint?.port ?? 5432;
const user = endpoint?.user ?? "postgres";
const database = endpoint?.database ?? "test";
const connectConfig = { userName: user, password: "" } as Parameters<typeof postgresDialect.connect>[0];

async function connect(url: string): Promise<string> {
  try {
    const connection = await postgresDialect.connect(connectConfig, parseDatabaseUrl(url));
    await connection.close();
    return "connected";
  } catch (error) {
    return (error as Error).message;
  }
}

// A TLS impostor (test double: no real PostgreSQL serves TLS here): it accepts PostgreSQL's SSLRequest and
// presents a self-signed certificate, then closes. A verifying client must refuse the certificate.
let dir: string;
let impostor: Server;
let impostorPort: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "pc-pg-tls-"));
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-subj",
      "/CN=impostor.invalid",
      "-days",
      "1",
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "cert.pem"),
    ],
    { stdio: "ignore" },
  );
  const key = readFileSync(join(dir, "key.pem"));
  const cert = readFileSync(join(dir, "cert.pem"));
  impostor = createServer((socket) => {
    socket.once("data", () => {
      socket.write("S");
      const tls = new TLSSocket(socket, { isServer: true, key, cert });
      tls.on("error", () => socket.destroy());
      tls.on("secure", () => tls.destroy());
    });
    socket.on("error", () => undefined);
  });
  await new Promise<void>((done) => impostor.listen(0, "127.0.0.1", done));
  impostorPort = (impostor.address() as { port: number }).port;
});

afterAll(async () => {
  await new Promise<void>((done) => impostor?.close(() => done()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("PostgreSQL TLS", () => {
  it("never falls back to plain text when sslmode or ssl asks for TLS (the test server has no TLS)", async () => {
    expect(await connect(`jdbc:postgresql://${host}:${port}/${database}`)).toBe("connected");
    for (const query of ["sslmode=verify-full", "sslmode=verify-ca", "sslmode=require", "ssl=true"]) {
      expect(await connect(`jdbc:postgresql://${host}:${port}/${database}?${query}`), query).toMatch(
        /does not support SSL/,
      );
    }
  });

  it("verifies the server certificate for ssl=true and verify-ca, not for require", async () => {
    const impostorUrl = `jdbc:postgresql://127.0.0.1:${impostorPort}/${database}`;
    expect(await connect(`${impostorUrl}?ssl=true`)).toMatch(/self[- ]signed certificate/);
    expect(await connect(`${impostorUrl}?sslmode=verify-ca`)).toMatch(/self[- ]signed certificate/);
    // require encrypts without verifying (libpq): the handshake succeeds and the impostor then hangs up.
    expect(await connect(`${impostorUrl}?sslmode=require`)).not.toMatch(/certificate/);
    // The impostor's own certificate as trusted CA: the chain verifies, the host name (127.0.0.1) does not.
    const ca = join(dir, "cert.pem");
    expect(await connect(`${impostorUrl}?sslmode=verify-full&sslrootcert=${ca}`)).toMatch(
      /Hostname\/IP does not match|altnames/,
    );
  });

  it("refuses sslmodes it cannot honour when the config is validated", () => {
    const result = jdbcPostgresSink.config.safeParse({
      jdbcUrl: `jdbc:postgresql://${host}:${port}/${database}?sslmode=prefer`,
      tableName: "t",
    });
    expect(result.success).toBe(false);
    expect(JSON.stringify(result.error?.issues)).toContain("sslmode=prefer may fall back to an unencrypted connection");
  });
});
