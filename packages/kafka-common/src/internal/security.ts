import { readFileSync } from "node:fs";
import type { ConnectionOptions } from "node:tls";
import { ConnectorError, confinedHostPath, type Logger, type z } from "@pulsar-connect/core";
import type { KafkaConfig, logCreator, SASLOptions } from "kafkajs";

/** The parsed security fields. */
export interface SecurityConfig {
  securityProtocol?: "PLAINTEXT" | "SSL" | "SASL_PLAINTEXT" | "SASL_SSL" | undefined;
  saslMechanism?: "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512" | undefined;
  saslJaasConfig?: string | undefined;
  sslEnabledProtocols?: string | undefined;
  sslEndpointIdentificationAlgorithm?: string | undefined;
  sslTruststoreLocation?: string | undefined;
  sslTruststorePassword?: string | undefined;
}

/** Field-level checks of the security fields, for a zod superRefine. */
export function checkSecurity(config: SecurityConfig, ctx: z.RefinementCtx): void {
  const sasl = config.securityProtocol === "SASL_PLAINTEXT" || config.securityProtocol === "SASL_SSL";
  if (sasl && !config.saslMechanism) {
    ctx.addIssue({ code: "custom", path: ["saslMechanism"], message: `is required with ${config.securityProtocol}` });
  }
  if (sasl && !(config.saslJaasConfig && parseJaasCredentials(config.saslJaasConfig))) {
    ctx.addIssue({
      code: "custom",
      path: ["saslJaasConfig"],
      message: 'must contain username="..." and password="..."',
    });
  }
  for (const version of splitList(config.sslEnabledProtocols)) {
    if (!TLS_VERSIONS.has(version)) {
      ctx.addIssue({
        code: "custom",
        path: ["sslEnabledProtocols"],
        message: `unknown TLS version ${version} (use ${[...TLS_VERSIONS].join(", ")})`,
      });
    }
  }
}

const TLS_VERSIONS = new Set(["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]);

/** Splits a comma list, dropping blanks. */
export function splitList(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part !== "");
}

/** Reads username and password out of a JAAS line, or undefined when either is missing. */
export function parseJaasCredentials(jaas: string): { username: string; password: string } | undefined {
  const username = /username\s*=\s*"((?:[^"\\]|\\.)*)"/.exec(jaas)?.[1];
  const password = /password\s*=\s*"((?:[^"\\]|\\.)*)"/.exec(jaas)?.[1];
  if (username === undefined || password === undefined) return undefined;
  return { username, password };
}

type TlsVersion = "TLSv1" | "TLSv1.1" | "TLSv1.2" | "TLSv1.3";

/** The kafkajs `ssl` and `sasl` options for the security fields. */
export function securityOptions(config: SecurityConfig): Pick<KafkaConfig, "ssl" | "sasl"> {
  const protocol = config.securityProtocol ?? "PLAINTEXT";
  const out: Pick<KafkaConfig, "ssl" | "sasl"> = {};
  if (protocol === "SSL" || protocol === "SASL_SSL") {
    const tls: ConnectionOptions = {};
    if (config.sslTruststoreLocation) {
      // Only inside the folders the operator allows, and one message whatever the reason: no probing of host files.
      const path = confinedHostPath(config.sslTruststoreLocation, "configs.sslTruststoreLocation");
      try {
        tls.ca = readFileSync(path, "utf8");
      } catch {
        throw new ConnectorError("INVALID_CONFIG", "Cannot read sslTruststoreLocation", {
          issues: [{ path: "configs.sslTruststoreLocation", message: "cannot be read" }],
        });
      }
    }
    const versions = splitList(config.sslEnabledProtocols).sort() as TlsVersion[];
    if (versions.length > 0) {
      tls.minVersion = versions[0];
      tls.maxVersion = versions[versions.length - 1];
    }
    if (config.sslEndpointIdentificationAlgorithm === "") tls.checkServerIdentity = () => undefined;
    out.ssl = Object.keys(tls).length === 0 ? true : tls;
  }
  if ((protocol === "SASL_PLAINTEXT" || protocol === "SASL_SSL") && config.saslJaasConfig && config.saslMechanism) {
    const credentials = parseJaasCredentials(config.saslJaasConfig);
    if (credentials) {
      const mechanism = config.saslMechanism.toLowerCase() as "plain" | "scram-sha-256" | "scram-sha-512";
      out.sasl = { mechanism, ...credentials } as SASLOptions;
    }
  }
  return out;
}

/** A kafkajs log creator writing to a connector logger (kafkajs levels: 1 error, 2 warn, 4 info, 5 debug). */
export function kafkaLogCreator(logger: Logger): logCreator {
  return () => (entry) => {
    const { message, timestamp: _timestamp, ...fields } = entry.log;
    const line = { kafkaNamespace: entry.namespace, ...fields };
    if (entry.level === 1) logger.warn(line, `kafka: ${message}`);
    else if (entry.level === 2) logger.warn(line, `kafka: ${message}`);
    else logger.debug(line, `kafka: ${message}`);
  };
}

/** Broker list from a `host:port,host:port` string. */
export function brokerList(bootstrapServers: string): string[] {
  return splitList(bootstrapServers).map((server) => server.replace(/^[a-z]+:\/\//i, ""));
}

// kafkajs errors about reaching brokers: trying again later may succeed, whatever flag the wrapper carries.
const CONNECTION_ERRORS: ReadonlySet<string> = new Set([
  "KafkaJSConnectionError",
  "KafkaJSConnectionClosedError",
  "KafkaJSRequestTimeoutError",
  "KafkaJSNumberOfRetriesExceeded",
  "KafkaJSBrokerNotFound",
  "KafkaJSMetadataNotLoaded",
  "KafkaJSLockTimeout",
]);

/** Whether a kafkajs error (or one of its causes) may succeed when tried again. */
export function isRetriable(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; current && depth < 8; depth++) {
    const candidate = current as { retriable?: unknown; name?: unknown; cause?: unknown; originalError?: unknown };
    if (candidate.retriable === true) return true;
    if (typeof candidate.name === "string" && CONNECTION_ERRORS.has(candidate.name)) return true;
    current = candidate.cause ?? candidate.originalError;
  }
  return false;
}
