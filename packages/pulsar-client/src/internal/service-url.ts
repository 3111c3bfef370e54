import { PulsarClientError } from "../errors.ts";

export interface BrokerAddress {
  /** Normalised URL, e.g. pulsar://host:6650 */
  url: string;
  host: string;
  port: number;
  tls: boolean;
}

/** Parses `pulsar://host[:port][,host2[:port]]` or `pulsar+ssl://...` into broker addresses. */
export function parseServiceUrl(serviceUrl: unknown): BrokerAddress[] {
  if (typeof serviceUrl !== "string" || serviceUrl.trim() === "") {
    throw new PulsarClientError("INVALID_URL", "serviceUrl must be a non-empty string");
  }
  const m = /^(pulsar|pulsar\+ssl):\/\/([^/?#]+)\/?$/.exec(serviceUrl.trim());
  if (!m) {
    throw new PulsarClientError(
      "INVALID_URL",
      `invalid service URL "${serviceUrl}": expected pulsar://host:port or pulsar+ssl://host:port`,
    );
  }
  const tls = m[1] === "pulsar+ssl";
  const defaultPort = tls ? 6651 : 6650;
  return m[2]!.split(",").map((part) => {
    const hp = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(part.trim());
    if (!hp) throw new PulsarClientError("INVALID_URL", `invalid host "${part}" in service URL "${serviceUrl}"`);
    const port = hp[2] === undefined ? defaultPort : Number(hp[2]);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new PulsarClientError("INVALID_URL", `invalid port in service URL "${serviceUrl}"`);
    }
    const host = hp[1]!.replace(/^\[|\]$/g, "");
    const hostPart = host.includes(":") ? `[${host}]` : host;
    return { url: `${m[1]}://${hostPart}:${port}`, host, port, tls };
  });
}

export function parseBrokerUrl(url: string): BrokerAddress {
  const [first] = parseServiceUrl(url);
  return first!;
}
