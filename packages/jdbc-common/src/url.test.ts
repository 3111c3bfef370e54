import { describe, expect, it } from "vitest";
import { DatabaseUrlError, parseDatabaseUrl } from "./url.ts";

describe("parseDatabaseUrl", () => {
  it("reads the upstream jdbc: network forms and the drivers' own", () => {
    expect(
      parseDatabaseUrl("jdbc:postgresql://db.example:6432/shop?user=app&password=p%40ss&currentSchema=sales"),
    ).toEqual({
      scheme: "postgresql",
      jdbc: true,
      host: "db.example",
      port: 6432,
      database: "shop",
      user: "app",
      password: "p@ss",
      params: { currentSchema: "sales" },
    });
    expect(parseDatabaseUrl("postgres://app:secret@localhost/shop")).toMatchObject({
      scheme: "postgres",
      jdbc: false,
      host: "localhost",
      database: "shop",
      user: "app",
      password: "secret",
    });
    expect(parseDatabaseUrl("jdbc:mariadb://127.0.0.1:3306/test")).toMatchObject({
      scheme: "mariadb",
      port: 3306,
      database: "test",
    });
    expect(parseDatabaseUrl("JDBC:MySQL://[::1]:3307/test")).toMatchObject({
      scheme: "mysql",
      host: "::1",
      port: 3307,
    });
    expect(parseDatabaseUrl("jdbc:postgresql:shop")).toMatchObject({ host: "localhost", database: "shop" });
  });

  it("reads the embedded forms", () => {
    expect(parseDatabaseUrl("jdbc:sqlite:/var/data/app.db")).toMatchObject({
      scheme: "sqlite",
      path: "/var/data/app.db",
    });
    expect(parseDatabaseUrl("jdbc:sqlite::memory:")).toMatchObject({ scheme: "sqlite", path: ":memory:" });
    expect(parseDatabaseUrl("jdbc:sqlite:data/app.db?journal_mode=WAL")).toMatchObject({
      path: "data/app.db",
      params: { journal_mode: "WAL" },
    });
    expect(parseDatabaseUrl("file:///var/data/app%20x.db")).toMatchObject({
      scheme: "file",
      path: "/var/data/app x.db",
    });
    expect(parseDatabaseUrl("/var/data/app.db")).toMatchObject({ scheme: "file", path: "/var/data/app.db" });
  });

  it("refuses what it cannot read, without repeating the URL", () => {
    expect(() => parseDatabaseUrl("jdbc:")).toThrow(DatabaseUrlError);
    expect(() => parseDatabaseUrl("jdbc:sqlite:")).toThrow(/no database file/);
    try {
      parseDatabaseUrl("postgres://app:hunter2@bad host/db");
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(DatabaseUrlError);
      expect(String((error as Error).message)).not.toContain("hunter2");
    }
  });
});
