export { CliError, type CliErrorCode } from "./errors.ts";
export { buildConfig } from "./internal/config-build.ts";
export type { CliIo } from "./internal/output.ts";
export { runCli } from "./internal/program.ts";
