import { parseServiceNames, SERVICE_NAMES } from "./internal/config.ts";
import { ServicesError } from "./internal/errors.ts";
import { describeUp, seconds, statusTable } from "./internal/format.ts";
import { serviceStatus, stopServices, upServices } from "./internal/services.ts";

const USAGE = `usage: pnpm services <command> [names...]
  up [names...]     start (or reuse) servers; no names = all
  down [names...]   stop servers this tooling started; no names = all
  status            table of every server
names: ${SERVICE_NAMES.join(", ")}`;

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "up": {
      const names = rest.length > 0 ? parseServiceNames(rest) : [...SERVICE_NAMES];
      const begun = Date.now();
      await upServices(names, { onResult: (result) => console.log(describeUp(result)) });
      console.log(`up: ${names.join(", ")} ready in ${seconds(Date.now() - begun)}`);
      return 0;
    }
    case "down": {
      const names = rest.length > 0 ? parseServiceNames(rest) : [...SERVICE_NAMES];
      for (const result of await stopServices(names)) {
        const text =
          result.outcome === "not-ours"
            ? "nothing of ours running (servers started elsewhere are left alone)"
            : `${result.outcome === "killed" ? "killed (SIGKILL after 20 s)" : "stopped"} pid ${result.pid} in ${seconds(result.ms)}`;
        console.log(`${result.name.padEnd(10)} ${text}`);
      }
      return 0;
    }
    case "status": {
      const names = rest.length > 0 ? parseServiceNames(rest) : [...SERVICE_NAMES];
      console.log(statusTable(await serviceStatus(names)));
      return 0;
    }
    default:
      console.error(USAGE);
      return command === undefined || command === "help" || command === "--help" ? 0 : 2;
  }
}

if (import.meta.main) {
  // kafkajs (used by the Kafka health check) trips a harmless Node timer warning on every connection.
  process.removeAllListeners("warning");
  process.on("warning", (warning) => {
    if (warning.name !== "TimeoutNegativeWarning") console.error(`${warning.name}: ${warning.message}`);
  });
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error instanceof ServicesError ? `services: ${error.message}` : error);
      process.exit(1);
    },
  );
}
