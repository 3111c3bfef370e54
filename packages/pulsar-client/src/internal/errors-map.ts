import { PulsarClientError, type PulsarClientErrorCode } from "../errors.ts";
import { SERVER_ERRORS } from "./schema.ts";

const CODE_BY_SERVER_ERROR: Record<string, PulsarClientErrorCode> = {
  AuthenticationError: "AUTHENTICATION",
  AuthorizationError: "AUTHORIZATION",
  ConsumerBusy: "CONSUMER_BUSY",
  ServiceNotReady: "SERVICE_NOT_READY",
  ChecksumError: "CHECKSUM",
  TopicNotFound: "TOPIC_NOT_FOUND",
  SubscriptionNotFound: "SUBSCRIPTION_NOT_FOUND",
  TopicTerminatedError: "TOPIC_TERMINATED",
  ProducerBusy: "PRODUCER_BUSY",
  InvalidTopicName: "INVALID_TOPIC",
  IncompatibleSchema: "INCOMPATIBLE_SCHEMA",
  TransactionCoordinatorNotFound: "TRANSACTION_COORDINATOR_NOT_FOUND",
  InvalidTxnStatus: "INVALID_TXN_STATUS",
  NotAllowedError: "NOT_ALLOWED",
  TransactionConflict: "TRANSACTION_CONFLICT",
  TransactionNotFound: "TRANSACTION_NOT_FOUND",
  ProducerFenced: "PRODUCER_FENCED",
};

const RETRYABLE_SERVER_ERRORS = new Set([
  "ServiceNotReady",
  "MetadataError",
  "PersistenceError",
  "TooManyRequests",
  "ProducerBusy",
  "ConsumerBusy",
  "UnknownError",
  "TransactionCoordinatorNotFound",
]);

export function serverErrorName(code: number | undefined): string {
  return SERVER_ERRORS[code ?? 0] ?? `ServerError(${code})`;
}

export function serverError(code: number | undefined, message: string | undefined, context: string): PulsarClientError {
  const name = serverErrorName(code);
  const text = message ?? "";
  let mapped: PulsarClientErrorCode = CODE_BY_SERVER_ERROR[name] ?? "BROKER_ERROR";
  // Topic names the broker refuses come back as MetadataError/InvalidTopicName depending on the path.
  if (mapped === "BROKER_ERROR" && /invalid (short )?topic name|Invalid topic name/i.test(text))
    mapped = "INVALID_TOPIC";
  if (/Cannot determine whether the message is a duplicate/i.test(text)) mapped = "SERVICE_NOT_READY";
  const retryable = mapped !== "INVALID_TOPIC" && RETRYABLE_SERVER_ERRORS.has(name);
  return new PulsarClientError(mapped, `${context}: ${name}${text ? ` - ${text}` : ""}`, {
    retryable,
    serverError: name,
  });
}
