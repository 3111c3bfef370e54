// The runtime's SQLite test sink (a position-storing sink) passes the shared conformance suite, including the runs through the runtime
// against the real broker.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inject } from "vitest";
import { openTestDb, sqliteTestSink } from "../../runtime/test/fixtures/sqlite-sink.ts";
import { describeSinkConformance } from "../src/index.ts";

const pulsar = (inject("services" as never) as { pulsar?: { serviceUrl: string; webServiceUrl: string } }).pulsar;
if (pulsar === undefined) throw new Error("test/services.json must list pulsar");

const dir = mkdtempSync(join(tmpdir(), "pc-conformance-"));
let counter = 0;

describeSinkConformance("sqlite-test", {
  definition: sqliteTestSink,
  config: () => ({ path: join(dir, `db-${counter++}.sqlite`) }),
  invalidConfig: { configs: { failEvery: -1 }, paths: ["configs.path", "configs.failEvery"] },
  value: (id) => ({ id }),
  duplicatesVisible: true,
  readBack: async (configs) => {
    const db = openTestDb(configs.path as string);
    try {
      return (db.prepare("SELECT id FROM rows").all() as Array<{ id: number }>).map((row) => row.id);
    } finally {
      db.close();
    }
  },
  pulsar: { serviceUrl: pulsar.serviceUrl, adminUrl: pulsar.webServiceUrl },
  connectorModule: join(import.meta.dirname, "../../runtime/test/fixtures/sqlite-sink.ts"),
});
