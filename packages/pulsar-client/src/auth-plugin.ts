import {
  type Authentication,
  oauth2ClientCredentials,
  tlsAuthentication,
  tokenAuthentication,
  tokenFileAuthentication,
} from "./auth.ts";
import { PulsarClientError } from "./errors.ts";

/** The Java client's authentication plugin classes this client implements. */
export const AUTH_PLUGINS = {
  token: "org.apache.pulsar.client.impl.auth.AuthenticationToken",
  tls: "org.apache.pulsar.client.impl.auth.AuthenticationTls",
  oauth2: "org.apache.pulsar.client.impl.auth.oauth2.AuthenticationOAuth2",
} as const;

type PluginKind = keyof typeof AUTH_PLUGINS;

function pluginKind(plugin: string): PluginKind | undefined {
  const simple = plugin.slice(plugin.lastIndexOf(".") + 1);
  for (const [kind, className] of Object.entries(AUTH_PLUGINS) as Array<[PluginKind, string]>) {
    if (plugin === className || simple === className.slice(className.lastIndexOf(".") + 1)) return kind;
  }
  return undefined;
}

/** `{"k":"v"}` or the older `k1:v1,k2:v2` form, as the Java client's plugins read their parameters. */
function paramsMap(params: string, plugin: string, jsonOnly: boolean): Record<string, string> {
  const text = params.trim();
  if (text.startsWith("{")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new PulsarClientError("INVALID_CONFIG", `authParams of ${plugin}: not valid JSON`, { cause: error });
    }
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
      throw new PulsarClientError("INVALID_CONFIG", `authParams of ${plugin}: must be a JSON object`);
    }
    return Object.fromEntries(Object.entries(parsed).map(([key, value]) => [key, String(value)]));
  }
  if (jsonOnly) {
    throw new PulsarClientError("INVALID_CONFIG", `authParams of ${plugin}: must be a JSON object`);
  }
  const map: Record<string, string> = {};
  for (const pair of text.split(",")) {
    const colon = pair.indexOf(":");
    if (colon <= 0)
      throw new PulsarClientError("INVALID_CONFIG", `authParams of ${plugin}: '${pair}' is not key:value`);
    map[pair.slice(0, colon).trim()] = pair.slice(colon + 1).trim();
  }
  return map;
}

function required(map: Record<string, string>, key: string, plugin: string): string {
  const value = map[key];
  if (!value) throw new PulsarClientError("INVALID_CONFIG", `authParams of ${plugin}: '${key}' is required`);
  return value;
}

function refuseUnknown(map: Record<string, string>, known: string[], plugin: string): void {
  const unknown = Object.keys(map).filter((key) => !known.includes(key));
  if (unknown.length > 0) {
    throw new PulsarClientError(
      "INVALID_CONFIG",
      `authParams of ${plugin}: ${unknown.map((key) => `'${key}'`).join(", ")} not supported (known: ${known.join(", ")})`,
    );
  }
}

/**
 * Builds the authentication a Java client would build from `authPlugin` and `authParams` (client.conf,
 * `--auth-plugin`/`--auth-params`, localrun's `--client-auth-plugin`/`--client-auth-params`). Returns undefined
 * for an empty plugin; throws INVALID_CONFIG, naming the plugin or parameter, for anything it cannot honour.
 */
export function authenticationFromPlugin(
  plugin: string | undefined,
  params: string | undefined,
): Authentication | undefined {
  const name = plugin?.trim() ?? "";
  if (name === "") {
    if (params?.trim()) {
      throw new PulsarClientError("INVALID_CONFIG", "authParams are set but authPlugin is not: name the plugin");
    }
    return undefined;
  }
  const kind = pluginKind(name);
  if (!kind) {
    throw new PulsarClientError(
      "INVALID_CONFIG",
      `authPlugin ${name} is not supported (supported: ${Object.values(AUTH_PLUGINS).join(", ")})`,
    );
  }
  const text = params?.trim() ?? "";
  switch (kind) {
    case "token": {
      if (text === "") throw new PulsarClientError("INVALID_CONFIG", `authParams of ${name}: a token is required`);
      if (text.startsWith("token:")) return tokenAuthentication(text.slice("token:".length));
      if (text.startsWith("file:")) {
        const location = text.startsWith("file://") ? new URL(text).pathname : text.slice("file:".length);
        return tokenFileAuthentication(decodeURIComponent(location));
      }
      return tokenAuthentication(text);
    }
    case "tls": {
      const map = paramsMap(text, name, false);
      refuseUnknown(map, ["tlsCertFile", "tlsKeyFile"], name);
      return tlsAuthentication({
        certFile: required(map, "tlsCertFile", name),
        keyFile: required(map, "tlsKeyFile", name),
      });
    }
    case "oauth2": {
      const map = paramsMap(text, name, true);
      refuseUnknown(map, ["type", "issuerUrl", "privateKey", "audience", "scope"], name);
      if (map.type !== undefined && map.type !== "client_credentials") {
        throw new PulsarClientError(
          "INVALID_CONFIG",
          `authParams of ${name}: type '${map.type}' is not supported (only client_credentials)`,
        );
      }
      return oauth2ClientCredentials({
        issuerUrl: required(map, "issuerUrl", name),
        privateKey: required(map, "privateKey", name),
        ...(map.audience ? { audience: map.audience } : {}),
        ...(map.scope ? { scope: map.scope } : {}),
      });
    }
  }
}
