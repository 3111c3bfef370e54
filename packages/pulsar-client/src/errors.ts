import type { MessageId } from "./message-id.ts";

/** Closed set of error codes raised by this package. */
export type PulsarClientErrorCode =
  | "CONNECTION_FAILED"
  | "TIMEOUT"
  | "INVALID_URL"
  | "INVALID_TOPIC"
  | "INVALID_CONFIG"
  | "MESSAGE_TOO_BIG"
  | "PROTOCOL"
  | "CHECKSUM"
  | "PRODUCER_BUSY"
  | "PRODUCER_FENCED"
  | "CONSUMER_BUSY"
  | "AUTHENTICATION"
  | "AUTHORIZATION"
  | "TOPIC_NOT_FOUND"
  | "SUBSCRIPTION_NOT_FOUND"
  | "TOPIC_TERMINATED"
  | "INCOMPATIBLE_SCHEMA"
  | "NOT_ALLOWED"
  | "TRANSACTION_CONFLICT"
  | "TRANSACTION_NOT_FOUND"
  | "INVALID_TXN_STATUS"
  | "TRANSACTION_COORDINATOR_NOT_FOUND"
  | "SERVICE_NOT_READY"
  | "COMPRESSION"
  | "BROKER_ERROR"
  | "ADMIN"
  | "CLOSED";

const RETRYABLE: ReadonlySet<PulsarClientErrorCode> = new Set<PulsarClientErrorCode>([
  "CONNECTION_FAILED",
  "TIMEOUT",
  "SERVICE_NOT_READY",
  "PRODUCER_BUSY",
  "CONSUMER_BUSY",
  "TRANSACTION_COORDINATOR_NOT_FOUND",
]);

export interface PulsarClientErrorOptions {
  cause?: unknown;
  retryable?: boolean;
  /** Broker ServerError name when the error came from the broker. */
  serverError?: string;
  /** HTTP status of a failed admin call. */
  httpStatus?: number;
  /** The message a consumer could not decode (acknowledge it to drop it). */
  messageId?: MessageId;
}

/** The single error class of this package; `code` is stable, `message` is for people. */
export class PulsarClientError extends Error {
  override readonly name = "PulsarClientError";
  readonly code: PulsarClientErrorCode;
  readonly retryable: boolean;
  readonly serverError: string | undefined;
  readonly httpStatus: number | undefined;
  /** Set on errors about one received message that could not be decoded: acknowledge it to drop it. */
  readonly messageId: MessageId | undefined;

  constructor(code: PulsarClientErrorCode, message: string, options: PulsarClientErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? RETRYABLE.has(code);
    this.serverError = options.serverError;
    this.httpStatus = options.httpStatus;
    this.messageId = options.messageId;
  }
}

export function isPulsarClientError(err: unknown): err is PulsarClientError {
  return err instanceof PulsarClientError;
}

/** Wraps anything thrown into a PulsarClientError, keeping the original as `cause`. */
export function toPulsarClientError(err: unknown, fallback: PulsarClientErrorCode = "BROKER_ERROR"): PulsarClientError {
  if (err instanceof PulsarClientError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new PulsarClientError(fallback, message, { cause: err });
}
