import { realpathSync } from "node:fs";
import { basename, delimiter, dirname, join, resolve, sep } from "node:path";
import { ConnectorError } from "./errors.ts";

/**
 * Environment variable with the host folders (separated by the platform's path delimiter) that connector configs
 * may name files in. The worker sets it from its `fileDirs` setting; when it is not set, paths are not confined.
 */
export const HOST_FILE_DIRS_ENV = "PULSAR_CONNECT_FILE_DIRS";

/** The real path of `path`: symbolic links of its longest existing ancestor resolved, the rest appended. */
function realPathOf(path: string): string {
  const rest: string[] = [];
  let current = path;
  for (;;) {
    try {
      return join(realpathSync(current), ...rest.reverse());
    } catch {
      const parent = dirname(current);
      if (parent === current) return path;
      rest.push(basename(current));
      current = parent;
    }
  }
}

/**
 * Resolves a host file path named by a connector config (a database file, a CA file) and checks that it lies in a
 * folder the operator allows ({@link HOST_FILE_DIRS_ENV}); symbolic links cannot lead outside. Returns the real path;
 * throws an INVALID_CONFIG {@link ConnectorError} naming `field` otherwise. The message does not say whether the
 * file exists.
 */
export function confinedHostPath(path: string, field: string): string {
  const absolute = resolve(path);
  const setting = process.env[HOST_FILE_DIRS_ENV];
  if (setting === undefined) return absolute;
  const real = realPathOf(absolute);
  const allowed = setting
    .split(delimiter)
    .filter((dir) => dir !== "")
    .map((dir) => realPathOf(resolve(dir)));
  if (allowed.some((dir) => real.startsWith(dir.endsWith(sep) ? dir : `${dir}${sep}`))) return real;
  const message = "must name a file inside the folders the worker allows for connector files (its fileDirs setting)";
  throw new ConnectorError("INVALID_CONFIG", `${field} ${message}`, { issues: [{ path: field, message }] });
}
