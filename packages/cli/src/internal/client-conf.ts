import { existsSync, readFileSync } from "node:fs";
import { CliError } from "../errors.ts";

/** The settings of pulsar-admin's `client.conf` that the CLI honours. */
export interface ClientConf {
  /** The file they came from (for messages). */
  file: string;
  webServiceUrl?: string;
  brokerServiceUrl?: string;
  authPlugin?: string;
  authParams?: string;
  tlsTrustCertsFilePath?: string;
  tlsAllowInsecureConnection?: boolean;
  tlsEnableHostnameVerification?: boolean;
  tlsCertificateFilePath?: string;
  tlsKeyFilePath?: string;
}

const STRING_KEYS = [
  "webServiceUrl",
  "brokerServiceUrl",
  "authPlugin",
  "authParams",
  "tlsTrustCertsFilePath",
  "tlsCertificateFilePath",
  "tlsKeyFilePath",
] as const;
const BOOLEAN_KEYS = ["tlsAllowInsecureConnection", "tlsEnableHostnameVerification"] as const;

/**
 * Keys of upstream's client.conf that have no counterpart here, with the value that means "not used" (upstream's
 * default). Any other value is refused: the file asks for something this CLI would not do.
 */
const UNSUPPORTED_KEYS: Record<string, { unused: string[]; why: string }> = {
  useKeyStoreTls: { unused: ["", "false"], why: "Java KeyStores are not supported; use PEM files" },
  tlsTrustStoreType: { unused: ["", "JKS"], why: "Java KeyStores are not supported; use tlsTrustCertsFilePath" },
  tlsTrustStorePath: { unused: [""], why: "Java KeyStores are not supported; use tlsTrustCertsFilePath" },
  tlsTrustStorePassword: { unused: [""], why: "Java KeyStores are not supported" },
  tlsKeyStoreType: { unused: ["", "JKS"], why: "Java KeyStores are not supported; use tlsCertificateFilePath" },
  tlsKeyStorePath: { unused: [""], why: "Java KeyStores are not supported; use tlsCertificateFilePath" },
  tlsKeyStorePassword: { unused: [""], why: "Java KeyStores are not supported" },
  webserviceTlsProvider: { unused: [""], why: "the TLS provider is Node.js's OpenSSL" },
  proxyServiceUrl: { unused: [""], why: "connecting through a Pulsar proxy is not supported here" },
  proxyProtocol: { unused: [""], why: "connecting through a Pulsar proxy is not supported here" },
};

/** Reads java.util.Properties text: `key=value`, `key: value` or `key value`, `#`/`!` comments, `\` continuations. */
export function parseProperties(text: string): Map<string, string> {
  const properties = new Map<string, string>();
  const lines = text.split(/\r?\n/);
  for (let index = 0; index < lines.length; index += 1) {
    let line = (lines[index] ?? "").replace(/^\s+/, "");
    if (line === "" || line.startsWith("#") || line.startsWith("!")) continue;
    while (/(^|[^\\])(\\\\)*\\$/.test(line) && index + 1 < lines.length) {
      index += 1;
      line = line.slice(0, -1) + (lines[index] ?? "").replace(/^\s+/, "");
    }
    const separator = /^((?:\\.|[^\\=:\s])*)\s*[=:\s]\s*/.exec(line);
    const key = separator ? (separator[1] ?? "") : line;
    const value = separator ? line.slice(separator[0].length) : "";
    const unescapeJava = (part: string) =>
      part.replace(/\\(u[0-9a-fA-F]{4}|.)/g, (_, escaped: string) => {
        if (escaped.length === 5) return String.fromCharCode(Number.parseInt(escaped.slice(1), 16));
        return ({ t: "\t", n: "\n", r: "\r", f: "\f" } as Record<string, string>)[escaped] ?? escaped;
      });
    properties.set(unescapeJava(key), unescapeJava(value));
  }
  return properties;
}

/**
 * Loads a client.conf (from `--client-conf` or `$PULSAR_CLIENT_CONF`). Settings this CLI cannot honour are refused
 * (exit 2, naming the key); keys that upstream does not know either are reported through `warn` and otherwise left
 * alone, as a typo would be silently ignored by pulsar-admin.
 */
export function loadClientConf(file: string, warn: (message: string) => void): ClientConf {
  if (!existsSync(file)) throw new CliError("USAGE", `client.conf ${file} does not exist`);
  const properties = parseProperties(readFileSync(file, "utf8"));
  const conf: ClientConf = { file };
  for (const [key, raw] of properties) {
    const value = raw.trim();
    if ((STRING_KEYS as readonly string[]).includes(key)) {
      if (value !== "") conf[key as (typeof STRING_KEYS)[number]] = value;
    } else if ((BOOLEAN_KEYS as readonly string[]).includes(key)) {
      if (value === "") continue;
      if (!/^(true|false)$/i.test(value)) {
        throw new CliError("USAGE", `${file}: ${key} must be true or false (got '${value}')`);
      }
      conf[key as (typeof BOOLEAN_KEYS)[number]] = value.toLowerCase() === "true";
    } else if (key in UNSUPPORTED_KEYS) {
      const rule = UNSUPPORTED_KEYS[key];
      if (rule && !rule.unused.includes(value)) {
        throw new CliError("USAGE", `${file}: ${key}=${value} is not supported: ${rule.why}`);
      }
    } else {
      warn(`${file}: unknown setting '${key}' ignored`);
    }
  }
  return conf;
}
