import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HOST_FILE_DIRS_ENV } from "@pulsar-connect/core";
import { parseDatabaseUrl } from "@pulsar-connect/jdbc-common";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import jdbcSqliteSink from "../index.ts";
import { sqliteDialect } from "./dialect.ts";

let root: string;
let allowed: string;
let elsewhere: string;
const previous = process.env[HOST_FILE_DIRS_ENV];

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "pc-sqlite-files-"));
  allowed = join(root, "allowed");
  elsewhere = join(root, "other-tenant");
  mkdirSync(allowed);
  mkdirSync(elsewhere);
  process.env[HOST_FILE_DIRS_ENV] = allowed;
});

afterEach(() => {
  if (previous === undefined) delete process.env[HOST_FILE_DIRS_ENV];
  else process.env[HOST_FILE_DIRS_ENV] = previous;
  rmSync(root, { recursive: true, force: true });
});

const problems = (jdbcUrl: string) => {
  const result = jdbcSqliteSink.config.safeParse({ jdbcUrl, tableName: "t" });
  return result.success ? [] : result.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
};

describe("SQLite database files are confined to the operator's folders", () => {
  it("refuses paths outside them, through .. or a symbolic link, whether the file exists or not", async () => {
    symlinkSync(elsewhere, join(allowed, "link"));
    for (const path of [
      join(elsewhere, "victim.db"),
      join(allowed, "..", "other-tenant", "victim.db"),
      join(allowed, "link", "victim.db"),
      "/etc/passwd",
      "relative.db",
    ]) {
      expect(problems(`jdbc:sqlite:${path}`), path).toEqual([
        "jdbcUrl: configs.jdbcUrl must name a file inside the folders the worker allows for connector files (its fileDirs setting)",
      ]);
      await expect(sqliteDialect.connect({} as never, parseDatabaseUrl(`jdbc:sqlite:${path}`))).rejects.toThrow(
        /must name a file inside the folders/,
      );
    }
  });

  it("opens files inside them and in-memory databases", async () => {
    expect(problems(`jdbc:sqlite:${join(allowed, "mine.db")}`)).toEqual([]);
    expect(problems("jdbc:sqlite::memory:")).toEqual([]);
    const connection = await sqliteDialect.connect(
      {} as never,
      parseDatabaseUrl(`jdbc:sqlite:${join(allowed, "mine.db")}`),
    );
    await connection.close();
  });
});
