import Aerospike from "aerospike";
import { describe, expect, it } from "vitest";
import { toWriteError } from "./sink.ts";

const { status } = Aerospike;

describe("write error classification", () => {
  it("reports a role violation or bad credentials as AUTH_FAILED, not as a per-record failure", () => {
    for (const code of [status.ROLE_VIOLATION, status.NOT_AUTHENTICATED, status.INVALID_CREDENTIAL]) {
      expect(toWriteError(Object.assign(new Error("denied"), { code }))).toMatchObject({
        code: "AUTH_FAILED",
        retryable: false,
      });
    }
  });

  it("keeps timeouts retryable and record errors not retryable", () => {
    expect(toWriteError(Object.assign(new Error("timeout"), { code: status.ERR_TIMEOUT }))).toMatchObject({
      code: "WRITE_FAILED",
      retryable: true,
    });
    expect(toWriteError(Object.assign(new Error("too big"), { code: status.ERR_RECORD_TOO_BIG })).code).toBe(
      "INVALID_RECORD",
    );
  });
});
