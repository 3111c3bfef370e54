import { describe, expect, it } from "vitest";
import { toProduceError } from "./sink.ts";

describe("produce error classification", () => {
  it("reports authorization and authentication answers as AUTH_FAILED, not as per-record failures", () => {
    const denied = { name: "KafkaJSProtocolError", type: "TOPIC_AUTHORIZATION_FAILED", retriable: false };
    expect(toProduceError(denied)).toMatchObject({ code: "AUTH_FAILED", retryable: false });
    const wrapped = { name: "KafkaJSNonRetriableError", message: "failed", retriable: false, cause: denied };
    expect(toProduceError(wrapped).code).toBe("AUTH_FAILED");
    expect(toProduceError({ name: "KafkaJSSASLAuthenticationError", message: "bad password" }).code).toBe(
      "AUTH_FAILED",
    );
  });

  it("keeps leader changes retryable and record errors not retryable", () => {
    const leader = { name: "KafkaJSProtocolError", type: "NOT_LEADER_OR_FOLLOWER", retriable: true };
    expect(toProduceError(leader)).toMatchObject({ code: "WRITE_FAILED", retryable: true });
    const tooLarge = { name: "KafkaJSProtocolError", type: "MESSAGE_TOO_LARGE", retriable: false };
    expect(toProduceError(tooLarge)).toMatchObject({ code: "WRITE_FAILED", retryable: false });
  });
});
