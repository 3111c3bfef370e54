import { describe, expect, it } from "vitest";
import { brokerList, isRetriable, splitList } from "./security.ts";

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
