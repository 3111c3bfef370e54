export { type CompactionState, PulsarAdmin, type PulsarAdminOptions } from "./admin.ts";
export {
  type Authentication,
  type OAuth2ClientCredentialsOptions,
  oauth2ClientCredentials,
  tlsAuthentication,
  tokenAuthentication,
  tokenFileAuthentication,
} from "./auth.ts";
export { AUTH_PLUGINS, authenticationFromPlugin } from "./auth-plugin.ts";
export { PulsarClient, type PulsarClientOptions, type TlsOptions } from "./client.ts";
export {
  type AcknowledgeOptions,
  type ActiveConsumerChangeEvent,
  Consumer,
  type ConsumerOptions,
  type DeadLetterPolicy,
  Reader,
  type ReaderOptions,
  type SubscriptionInitialPosition,
  type SubscriptionType,
  topicsPatternMatcher,
} from "./consumer.ts";
export {
  isPulsarClientError,
  PulsarClientError,
  type PulsarClientErrorCode,
  type PulsarClientErrorOptions,
} from "./errors.ts";
export { Backoff, sleep } from "./internal/backoff.ts";
export { type CompressionType, compressionUnavailable } from "./internal/compression.ts";
export { type HashingScheme, javaStringHashCode, keyHash, murmur3_32, partitionForKey } from "./internal/hash.ts";
export { Message } from "./message.ts";
export { MessageId } from "./message-id.ts";
export { Producer, type ProducerAccessMode, type ProducerMessage, type ProducerOptions } from "./producer.ts";
export {
  type KeyValueEncoding,
  keyValueSchema,
  type SchemaInfo,
  type SchemaType,
  type TopicSchema,
} from "./schema-info.ts";
export { Transaction, type TransactionState } from "./transaction.ts";
