import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HOST_FILE_DIRS_ENV } from "@pulsar-connect/core";
import { describe, expect, it } from "vitest";
import { brokerList, isRetriable, securityOptions, splitList } from "./security.ts";

describe("kafkajs error classification", () => {
  it("treats broker connection problems as retryable, even wrapped in a non-retriable error", () => {
    expect(
      isRetriable({ name: "KafkaJSNonRetriableError", retriable: false, cause: { name: "KafkaJSConnectionError" } }),
    ).toBe(true);
    expect(isRetriable({ name: "KafkaJSNumberOfRetriesExceeded", retriable: false })).toBe(true);
    expect(isRetriable({ name: "KafkaJSProtocolError", retriable: true, type: "NOT_LEADER_OR_FOLLOWER" })).toBe(true);
  });

  it("treats errors about the request itself as final", () => {
    expect(isRetriable({ name: "KafkaJSProtocolError", retriable: false, type: "MESSAGE_TOO_LARGE" })).toBe(false);
    expect(isRetriable(new Error("boom"))).toBe(false);
    expect(isRetriable(undefined)).toBe(false);
  });
});

describe("broker lists", () => {
  it("splits host:port lists and drops scheme prefixes", () => {
    expect(brokerList(" a:9092, PLAINTEXT://b:9093 ,,")).toEqual(["a:9092", "b:9093"]);
    expect(splitList(undefined)).toEqual([]);
  });
});

describe("sslTruststoreLocation", () => {
  it("reads only files inside the operator's folders, with one answer for every file outside them", () => {
    const root = mkdtempSync(join(tmpdir(), "pc-kafka-truststore-"));
    const previous = process.env[HOST_FILE_DIRS_ENV];
    try {
      const allowed = join(root, "certs");
      writeFileSync(join(root, "outside.pem"), "not for tenants");
      process.env[HOST_FILE_DIRS_ENV] = allowed;
      const outside = (path: string) => () => securityOptions({ securityProtocol: "SSL", sslTruststoreLocation: path });
      for (const path of [
        join(root, "outside.pem"),
        join(root, "missing.pem"),
        "/etc/shadow",
        `${allowed}/../outside.pem`,
      ]) {
        expect(outside(path), path).toThrow(
          "configs.sslTruststoreLocation must name a file inside the folders the worker allows for connector files",
        );
      }
      expect(outside(join(allowed, "missing.pem"))).toThrow(/^Cannot read sslTruststoreLocation$/);
    } finally {
      if (previous === undefined) delete process.env[HOST_FILE_DIRS_ENV];
      else process.env[HOST_FILE_DIRS_ENV] = previous;
      rmSync(root, { recursive: true, force: true });
    }
  });
});
