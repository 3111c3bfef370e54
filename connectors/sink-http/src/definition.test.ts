import { loadConfig, parseConfig, REDACTED, redactConfig } from "@pulsar-connect/core";
import { makeSinkRecords } from "@pulsar-connect/testkit";
import { describe, expect, it } from "vitest";
import definition from "./index.ts";
import { retryAfterMs, verdictOf } from "./internal/requests.ts";
import { jsonBody, recordHeaders } from "./internal/sink.ts";

describe("http sink config", () => {
  it("takes the upstream fields and defaults", () => {
    expect(loadConfig(definition.config, {})).toMatchObject({
      url: "http://localhost",
      headers: {},
      requestMode: "perRecord",
      bodyFormat: "json",
      requestTimeoutMs: 30_000,
    });
  });

  it("names each bad field, and refuses unknown ones", () => {
    const result = parseConfig(definition.config, {
      url: "localhost:8080",
      headers: { "bad header": "x" },
      timeout: 5,
    });
    expect(result.ok ? [] : result.issues.map((issue) => issue.path).sort()).toEqual([
      "configs",
      "configs.headers.bad header",
      "configs.url",
    ]);
    const framing = parseConfig(definition.config, { headers: { "Content-Length": "1" } });
    expect(framing.ok ? [] : framing.issues.map((issue) => issue.path)).toEqual(["configs.headers.Content-Length"]);
    const twice = parseConfig(definition.config, { headers: { "content-type": "text/csv" }, contentType: "a/b" });
    expect(twice.ok ? [] : twice.issues.map((issue) => issue.path)).toEqual(["configs.contentType"]);
    const raw = parseConfig(definition.config, { requestMode: "jsonArray", bodyFormat: "raw" });
    expect(raw.ok ? [] : raw.issues.map((issue) => issue.path)).toEqual(["configs.bodyFormat"]);
  });

  it("takes secret headers from a secret (JSON text), redacts them, and refuses one also set in headers", () => {
    const config = loadConfig(definition.config, { headers: { "X-A": "1" } }, (name) =>
      name === "secretHeaders" ? '{"Authorization": "Bearer abc"}' : undefined,
    );
    expect(config.secretHeaders).toEqual({ Authorization: "Bearer abc" });
    expect(redactConfig(definition.config, config)).toMatchObject({ secretHeaders: REDACTED, headers: { "X-A": "1" } });
    const clash = parseConfig(definition.config, {
      headers: { authorization: "x" },
      secretHeaders: { Authorization: "y" },
    });
    expect(clash.ok ? [] : clash.issues.map((issue) => issue.path)).toEqual(["configs.secretHeaders"]);
  });
});

describe("http sink requests", () => {
  it("writes values as upstream's JSON: bytes as base64, strings quoted, nothing as null", () => {
    expect(jsonBody({ id: 1, raw: new Uint8Array([255]) })).toBe('{"id":1,"raw":"/w=="}');
    expect(jsonBody("a")).toBe('"a"');
    expect(jsonBody(undefined)).toBe("null");
    expect(jsonBody({ key: "k", value: 12345678901234567890n })).toBe('{"key":"k","value":12345678901234567890}');
  });

  it("refuses a record whose metadata cannot be a header, naming the header and not the value", () => {
    const [bad] = makeSinkRecords([{ value: 1, properties: { city: "東京" } }]);
    expect(() => recordHeaders(bad as never)).toThrowError(/PulsarProperties-city.*only Latin-1/);
    const [spaced] = makeSinkRecords([{ value: 1, properties: { "a b": "x" } }]);
    expect(() => recordHeaders(spaced as never)).toThrowError(/not a valid header name/);
  });

  it("reads Retry-After as seconds or as a date", () => {
    expect(retryAfterMs("3")).toBe(3000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
    expect(retryAfterMs("soon")).toBeUndefined();
  });

  it("sorts answers: 2xx written, 408/429/5xx/3xx retried, 401/403 unauthorized, other 4xx refused", () => {
    const kind = (status: number) => verdictOf({ status, headers: {}, bodyStart: "" }, "http://h/").kind;
    expect([200, 204, 408, 429, 500, 503, 302, 401, 403, 400, 404, 413, 422].map(kind)).toEqual([
      "written",
      "written",
      "retry",
      "retry",
      "retry",
      "retry",
      "retry",
      "unauthorized",
      "unauthorized",
      "refused",
      "refused",
      "refused",
      "refused",
    ]);
    expect(verdictOf({ status: 429, headers: { "retry-after": "7" }, bodyStart: "" }, "t")).toMatchObject({
      waitMs: 7000,
    });
  });
});
