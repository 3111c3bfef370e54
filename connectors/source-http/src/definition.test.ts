import { createHmac } from "node:crypto";
import { loadConfig, parseConfig, REDACTED, redactConfig } from "@pulsar-connect/core";
import { describe, expect, it } from "vitest";
import definition from "./index.ts";
import { bodyValue, sameSecret, signatureMatches } from "./internal/checks.ts";

describe("http source config", () => {
  it("has defaults for every field", () => {
    expect(loadConfig(definition.config, {})).toMatchObject({
      host: "127.0.0.1",
      port: 10_999,
      path: "/",
      maxBodyBytes: 1_048_576,
      bodyFormat: "bytes",
      headerProperties: [],
      signatureAlgorithm: "sha256",
      signaturePrefix: "sha256=",
    });
  });

  it("names each bad field, refuses unknown ones and a signature header without its secret", () => {
    const bad = parseConfig(definition.config, { port: -1, path: "x", signatureAlgorithm: "md5", portt: 1 });
    expect(bad.ok ? [] : bad.issues.map((issue) => issue.path).sort()).toEqual([
      "configs",
      "configs.path",
      "configs.port",
      "configs.signatureAlgorithm",
    ]);
    const half = parseConfig(definition.config, { signatureHeader: "X-Signature" });
    expect(half.ok ? [] : half.issues.map((issue) => issue.path)).toEqual(["configs.signatureSecret"]);
  });

  it("redacts the signature secret and the bearer token, and takes them from secrets", () => {
    const config = loadConfig(definition.config, { signatureHeader: "X-Signature" }, (name) =>
      name === "signatureSecret" ? "s" : name === "bearerToken" ? "t" : undefined,
    );
    expect(config).toMatchObject({ signatureSecret: "s", bearerToken: "t" });
    expect(redactConfig(definition.config, config)).toMatchObject({ signatureSecret: REDACTED, bearerToken: REDACTED });
  });
});

describe("http source checks", () => {
  it("accepts the HMAC-SHA256 of the exact body only, hex in either case, prefix as configured", () => {
    const body = Buffer.from('{"a":1}');
    const hex = createHmac("sha256", "k").update(body).digest("hex");
    expect(signatureMatches(`sha256=${hex}`, body, "k", "sha256=")).toBe(true);
    expect(signatureMatches(`sha256=${hex.toUpperCase()}`, body, "k", "sha256=")).toBe(true);
    expect(signatureMatches(hex, body, "k", "")).toBe(true);
    expect(signatureMatches(hex, body, "k", "sha256=")).toBe(false);
    expect(signatureMatches(`sha256=${hex}`, Buffer.from('{"a":2}'), "k", "sha256=")).toBe(false);
    expect(signatureMatches(`sha256=${hex}`, body, "other", "sha256=")).toBe(false);
    expect(signatureMatches(undefined, body, "k", "sha256=")).toBe(false);
    expect(sameSecret("Bearer a", "Bearer a")).toBe(true);
    expect(sameSecret("Bearer a", "Bearer ab")).toBe(false);
  });

  it("takes bodies by format: bytes as they are, UTF-8 text, JSON kept byte for byte", () => {
    expect(bodyValue(Buffer.from([0xff]), "bytes")).toEqual({ value: new Uint8Array([0xff]) });
    expect(bodyValue(Buffer.from([0xff]), "string")).toEqual({ refused: "the body is not UTF-8 text" });
    expect(bodyValue(Buffer.from("héllo"), "string")).toEqual({ value: "héllo" });
    expect(bodyValue(Buffer.from("[1, 2]"), "json")).toEqual({ value: new Uint8Array(Buffer.from("[1, 2]")) });
    expect(bodyValue(Buffer.from("{"), "json")).toMatchObject({ refused: expect.stringMatching(/not JSON/) });
  });
});
