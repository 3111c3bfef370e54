import { fileURLToPath } from "node:url";

/** A database URL taken apart: the upstream `jdbc:` forms and the drivers' own forms give the same result. */
export interface DatabaseUrl {
  /** Lower-case scheme without `jdbc:` (`postgresql`, `postgres`, `mariadb`, `mysql`, `sqlite`, `file`). */
  scheme: string;
  /** Whether the URL had the upstream `jdbc:` prefix. */
  jdbc: boolean;
  /** Host of a network database. */
  host?: string;
  /** Port of a network database, when the URL names one. */
  port?: number;
  /** Database name of a network database. */
  database?: string;
  /** File path of an embedded database (`:memory:` for an in-memory one). */
  path?: string;
  /** User from the URL's user info or its `user` parameter. */
  user?: string;
  /** Password from the URL's user info or its `password` parameter. */
  password?: string;
  /** Query parameters other than `user` and `password`. */
  params: Record<string, string>;
}

/** Why a URL could not be taken apart. Messages never repeat the URL, which may hold a password. */
export class DatabaseUrlError extends Error {
  override readonly name: string = "DatabaseUrlError";
}

const EMBEDDED_SCHEMES = new Set(["sqlite", "sqlite3", "file"]);

/**
 * Takes a database URL apart. Accepts `jdbc:postgresql://host:port/db?user=u`, `postgres://u:p@host/db`,
 * `jdbc:mariadb://...`, `jdbc:mysql://...`, `mysql://...`, `jdbc:sqlite:/path/db.sqlite`, `jdbc:sqlite::memory:`,
 * `file:` URLs and bare file paths (scheme `file`).
 */
export function parseDatabaseUrl(url: string): DatabaseUrl {
  let rest = url.trim();
  const jdbc = /^jdbc:/i.test(rest);
  if (jdbc) rest = rest.slice(5);
  const match = /^([a-z][a-z0-9+.-]+):(.*)$/is.exec(rest);
  if (!match) {
    if (jdbc || rest === "") throw new DatabaseUrlError("has no scheme");
    return { scheme: "file", jdbc, path: rest, params: {} };
  }
  const scheme = (match[1] ?? "").toLowerCase();
  const after = match[2] ?? "";
  if (EMBEDDED_SCHEMES.has(scheme)) return embedded(scheme, after, jdbc);
  return network(scheme, after, jdbc);
}

function embedded(scheme: string, after: string, jdbc: boolean): DatabaseUrl {
  const queryAt = after.indexOf("?");
  const location = queryAt === -1 ? after : after.slice(0, queryAt);
  const params = queryAt === -1 ? {} : Object.fromEntries(new URLSearchParams(after.slice(queryAt + 1)));
  let path = location;
  if (scheme === "file" && location.startsWith("//")) {
    path = fileURLToPath(`file:${location}`);
  } else if (location.startsWith("//")) {
    // sqlite:///abs/path and sqlite://rel/path
    path = location.slice(2);
  }
  if (path === "") throw new DatabaseUrlError("names no database file");
  return { scheme: scheme === "sqlite3" ? "sqlite" : scheme, jdbc, path, params };
}

function network(scheme: string, after: string, jdbc: boolean): DatabaseUrl {
  if (!after.startsWith("//")) {
    // jdbc:postgresql:database -> localhost
    const [name = "", query = ""] = after.split("?", 2);
    const result: DatabaseUrl = { scheme, jdbc, host: "localhost", params: {} };
    if (name !== "") result.database = decodeURIComponent(name);
    return withParams(result, new URLSearchParams(query));
  }
  let parsed: URL;
  try {
    parsed = new URL(`${scheme}:${after}`);
  } catch {
    throw new DatabaseUrlError("is not a valid URL (expected scheme://host:port/database)");
  }
  if (parsed.hostname === "") throw new DatabaseUrlError("names no host");
  const result: DatabaseUrl = {
    scheme,
    jdbc,
    host: parsed.hostname.replace(/^\[(.*)\]$/, "$1"),
    params: {},
  };
  if (parsed.port !== "") result.port = Number(parsed.port);
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ""));
  if (database !== "") result.database = database;
  if (parsed.username !== "") result.user = decodeURIComponent(parsed.username);
  if (parsed.password !== "") result.password = decodeURIComponent(parsed.password);
  return withParams(result, parsed.searchParams);
}

function withParams(result: DatabaseUrl, search: URLSearchParams): DatabaseUrl {
  for (const [name, value] of search) {
    if (name === "user") result.user ??= value;
    else if (name === "password") result.password ??= value;
    else result.params[name] = value;
  }
  return result;
}
