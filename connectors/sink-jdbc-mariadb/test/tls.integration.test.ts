import { parseDatabaseUrl } from "@pulsar-connect/jdbc-common";
import { describe, expect, inject, it } from "vitest";
import jdbcMariadbSink from "../src/index.ts";
import { mariadbDialect } from "../src/internal/dialect.ts";

const endpoint = inject("services").mariadb;
const host = endpoint?.host ?? "127.0.0.1";
const port = endpoint?.port ?? 3306;
const user = endpoint?.user ?? "root";
const password = endpoint?.password ?? "";
const database = endpoint?.database ?? "test";
const connectConfig = { userName: user, password } as Parameters<typeof mariadbDialect.connect>[0];

async function connect(url: string): Promise<string> {
  try {
    const connection = await mariadbDialect.connect(connectConfig, parseDatabaseUrl(url));
    await connection.close();
    return "connected";
  } catch (error) {
    return (error as Error).message;
  }
}

describe("MariaDB TLS", () => {
  it("honours the TLS parameters: never a plain connection when TLS is asked for (the test server has no TLS)", async () => {
    const base = `jdbc:mariadb://${host}:${port}/${database}`;
    expect(await connect(base)).toBe("connected");
    expect(await connect(`${base}?sslMode=disable`)).toBe("connected");
    for (const query of ["sslMode=verify-full", "sslMode=verify-ca", "sslMode=trust", "useSsl=true", "useSSL=true"]) {
      expect(await connect(`${base}?${query}`), query).toMatch(/does not support secure connection/);
    }
  });

  it("refuses TLS parameters it cannot honour when the config is validated", () => {
    const result = jdbcMariadbSink.config.safeParse({
      jdbcUrl: `jdbc:mariadb://${host}:${port}/${database}?useSsl=true&keyStore=/client.jks`,
      tableName: "t",
    });
    expect(result.success).toBe(false);
    expect(JSON.stringify(result.error?.issues)).toContain("keyStore is not supported");
  });
});
