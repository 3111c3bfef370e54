import { join } from "node:path";
import { sensitive, z } from "@pulsar-connect/core";
import { describe, expect, it } from "vitest";
import { configTable, loadConnector, TABLE_END, TABLE_START, withConfigTable } from "../internal/connector-docs.ts";

const root = join(import.meta.dirname, "../../..");

describe("connector docs", () => {
  it("renders an aligned config table with defaults, required and sensitive fields", () => {
    const table = configTable(
      z.object({
        url: z.string().describe("Where | it listens"),
        secret: sensitive(z.string().default("")).describe("Token"),
        size: z.number().int().default(10).describe("Batch size"),
      }),
    );
    expect(table.split("\n")).toEqual([
      "| Field    | Type    | Required | Default | Sensitive | Description         |",
      "| -------- | ------- | -------- | ------- | --------- | ------------------- |",
      "| `url`    | string  | yes      |         | no        | Where \\| it listens |",
      '| `secret` | string  | no       | `""`    | yes       | Token               |',
      "| `size`   | integer | no       | `10`    | no        | Batch size          |",
    ]);
  });

  it("replaces only the text between the markers", () => {
    const readme = `# x\n\n${TABLE_START}\nold\n${TABLE_END}\n\nafter\n`;
    const updated = withConfigTable(readme, "| new |");
    expect(updated).toBe(`# x\n\n${TABLE_START}\n| new |\n${TABLE_END}\n\nafter\n`);
    expect(withConfigTable(updated ?? "", "| new |")).toBe(updated);
    expect(withConfigTable("# no markers\n", "| new |")).toBeUndefined();
  });

  it("finds nothing wrong with a well-formed connector", async () => {
    const connector = await loadConnector(join(root, "connectors/sink-jdbc-sqlite"));
    expect(connector.problems).toEqual([]);
    expect(connector.manifest?.name).toBe("jdbc-sqlite");
    expect(connector.config).toBeDefined();
  });

  it("reports manifest, folder, keyword and default export mismatches", async () => {
    const connector = await loadConnector(join(import.meta.dirname, "fixtures/sink-mismatched"));
    expect(connector.problems).toEqual([
      "folder is sink-mismatched, the manifest says it must be sink-other-name",
      'keywords lack "pulsar-connect-sink"',
      "the default export of ./src/index.ts is not a sink definition (use defineSink)",
    ]);
  });
});
