// Field tables for the subset of the Pulsar protocol (package pulsar.proto, proto2) that this client uses.
// Field numbers follow PulsarApi.proto; names are camelCase here.
import type { MsgSchema, Pb } from "./protobuf.ts";

export const KeyValue = { key: [1, "string"], value: [2, "string"] } as const satisfies MsgSchema;
export const KeyLongValue = { key: [1, "string"], value: [2, "u64"] } as const satisfies MsgSchema;
export const IntRange = { start: [1, "i32"], end: [2, "i32"] } as const satisfies MsgSchema;
export const MessageIdData = {
  ledgerId: [1, "i64"],
  entryId: [2, "i64"],
  partition: [3, "i32"],
  batchIndex: [4, "i32"],
  ackSet: [5, "i64", "rep"],
  batchSize: [6, "i32"],
} as const satisfies MsgSchema;
export const SchemaPb = {
  name: [1, "string"],
  schemaData: [3, "bytes"],
  type: [4, "u32"],
  properties: [5, KeyValue, "rep"],
} as const satisfies MsgSchema;
export const FeatureFlags = {
  supportsAuthRefresh: [1, "bool"],
  supportsBrokerEntryMetadata: [2, "bool"],
  supportsPartialProducer: [3, "bool"],
  supportsTopicWatchers: [4, "bool"],
} as const satisfies MsgSchema;
export const AuthData = { authMethodName: [1, "string"], authData: [2, "bytes"] } as const satisfies MsgSchema;
export const KeySharedMeta = {
  keySharedMode: [1, "u32"],
  hashRanges: [3, IntRange, "rep"],
  allowOutOfOrderDelivery: [4, "bool"],
} as const satisfies MsgSchema;
export const SubscriptionPb = { topic: [1, "string"], subscription: [2, "string"] } as const satisfies MsgSchema;

export const MessageMetadata = {
  producerName: [1, "string"],
  sequenceId: [2, "u64"],
  publishTime: [3, "u64"],
  properties: [4, KeyValue, "rep"],
  replicatedFrom: [5, "string"],
  partitionKey: [6, "string"],
  replicateTo: [7, "string", "rep"],
  compression: [8, "u32"],
  uncompressedSize: [9, "u32"],
  numMessagesInBatch: [11, "i32"],
  eventTime: [12, "u64"],
  schemaVersion: [16, "bytes"],
  partitionKeyB64Encoded: [17, "bool"],
  orderingKey: [18, "bytes"],
  deliverAtTime: [19, "i64"],
  markerType: [20, "i32"],
  txnidLeastBits: [22, "u64"],
  txnidMostBits: [23, "u64"],
  highestSequenceId: [24, "u64"],
  nullValue: [25, "bool"],
  uuid: [26, "string"],
  numChunksFromMsg: [27, "i32"],
  totalChunkMsgSize: [28, "i32"],
  chunkId: [29, "i32"],
  nullPartitionKey: [30, "bool"],
} as const satisfies MsgSchema;

export const SingleMessageMetadata = {
  properties: [1, KeyValue, "rep"],
  partitionKey: [2, "string"],
  payloadSize: [3, "i32"],
  compactedOut: [4, "bool"],
  eventTime: [5, "u64"],
  partitionKeyB64Encoded: [6, "bool"],
  orderingKey: [7, "bytes"],
  sequenceId: [8, "u64"],
  nullValue: [9, "bool"],
  nullPartitionKey: [10, "bool"],
} as const satisfies MsgSchema;

export const BrokerEntryMetadata = { brokerTimestamp: [1, "u64"], index: [2, "u64"] } as const satisfies MsgSchema;

const Connect = {
  clientVersion: [1, "string"],
  authMethod: [2, "u32"],
  authData: [3, "bytes"],
  protocolVersion: [4, "i32"],
  authMethodName: [5, "string"],
  proxyToBrokerUrl: [6, "string"],
  featureFlags: [10, FeatureFlags],
} as const satisfies MsgSchema;
const Connected = {
  serverVersion: [1, "string"],
  protocolVersion: [2, "i32"],
  maxMessageSize: [3, "i32"],
  featureFlags: [4, FeatureFlags],
} as const satisfies MsgSchema;
const AuthChallenge = {
  serverVersion: [1, "string"],
  challenge: [2, AuthData],
  protocolVersion: [3, "i32"],
} as const satisfies MsgSchema;
const AuthResponse = {
  clientVersion: [1, "string"],
  response: [2, AuthData],
  protocolVersion: [3, "i32"],
} as const satisfies MsgSchema;
const Subscribe = {
  topic: [1, "string"],
  subscription: [2, "string"],
  subType: [3, "u32"],
  consumerId: [4, "u64"],
  requestId: [5, "u64"],
  consumerName: [6, "string"],
  priorityLevel: [7, "i32"],
  durable: [8, "bool"],
  startMessageId: [9, MessageIdData],
  metadata: [10, KeyValue, "rep"],
  readCompacted: [11, "bool"],
  schema: [12, SchemaPb],
  initialPosition: [13, "u32"],
  replicateSubscriptionState: [14, "bool"],
  forceTopicCreation: [15, "bool"],
  startMessageRollbackDurationSec: [16, "u64"],
  keySharedMeta: [17, KeySharedMeta],
  subscriptionProperties: [18, KeyValue, "rep"],
  consumerEpoch: [19, "u64"],
} as const satisfies MsgSchema;
const Producer = {
  topic: [1, "string"],
  producerId: [2, "u64"],
  requestId: [3, "u64"],
  producerName: [4, "string"],
  encrypted: [5, "bool"],
  metadata: [6, KeyValue, "rep"],
  schema: [7, SchemaPb],
  epoch: [8, "u64"],
  userProvidedProducerName: [9, "bool"],
  producerAccessMode: [10, "u32"],
  topicEpoch: [11, "u64"],
  txnEnabled: [12, "bool"],
  initialSubscriptionName: [13, "string"],
} as const satisfies MsgSchema;
const Send = {
  producerId: [1, "u64"],
  sequenceId: [2, "u64"],
  numMessages: [3, "i32"],
  txnidLeastBits: [4, "u64"],
  txnidMostBits: [5, "u64"],
  highestSequenceId: [6, "u64"],
  isChunk: [7, "bool"],
  marker: [8, "bool"],
} as const satisfies MsgSchema;
const SendReceipt = {
  producerId: [1, "u64"],
  sequenceId: [2, "u64"],
  messageId: [3, MessageIdData],
  highestSequenceId: [4, "u64"],
} as const satisfies MsgSchema;
const SendError = {
  producerId: [1, "u64"],
  sequenceId: [2, "u64"],
  error: [3, "u32"],
  message: [4, "string"],
} as const satisfies MsgSchema;
const MessageCmd = {
  consumerId: [1, "u64"],
  messageId: [2, MessageIdData],
  redeliveryCount: [3, "u32"],
  ackSet: [4, "i64", "rep"],
  consumerEpoch: [5, "u64"],
} as const satisfies MsgSchema;
const Ack = {
  consumerId: [1, "u64"],
  ackType: [2, "u32"],
  messageId: [3, MessageIdData, "rep"],
  validationError: [4, "u32"],
  properties: [5, KeyLongValue, "rep"],
  txnidLeastBits: [6, "u64"],
  txnidMostBits: [7, "u64"],
  requestId: [8, "u64"],
} as const satisfies MsgSchema;
const AckResponse = {
  consumerId: [1, "u64"],
  txnidLeastBits: [2, "u64"],
  txnidMostBits: [3, "u64"],
  error: [4, "u32"],
  message: [5, "string"],
  requestId: [6, "u64"],
} as const satisfies MsgSchema;
const Flow = { consumerId: [1, "u64"], messagePermits: [2, "u32"] } as const satisfies MsgSchema;
const Unsubscribe = { consumerId: [1, "u64"], requestId: [2, "u64"], force: [3, "bool"] } as const satisfies MsgSchema;
const Success = { requestId: [1, "u64"], schema: [2, SchemaPb] } as const satisfies MsgSchema;
const ErrorCmd = { requestId: [1, "u64"], error: [2, "u32"], message: [3, "string"] } as const satisfies MsgSchema;
const CloseProducer = {
  producerId: [1, "u64"],
  requestId: [2, "u64"],
  assignedBrokerServiceUrl: [3, "string"],
  assignedBrokerServiceUrlTls: [4, "string"],
} as const satisfies MsgSchema;
const CloseConsumer = {
  consumerId: [1, "u64"],
  requestId: [2, "u64"],
  assignedBrokerServiceUrl: [3, "string"],
  assignedBrokerServiceUrlTls: [4, "string"],
} as const satisfies MsgSchema;
const ProducerSuccess = {
  requestId: [1, "u64"],
  producerName: [2, "string"],
  lastSequenceId: [3, "i64"],
  schemaVersion: [4, "bytes"],
  topicEpoch: [5, "u64"],
  producerReady: [6, "bool"],
} as const satisfies MsgSchema;
const Empty = {} as const satisfies MsgSchema;
const Redeliver = {
  consumerId: [1, "u64"],
  messageIds: [2, MessageIdData, "rep"],
  consumerEpoch: [3, "u64"],
} as const satisfies MsgSchema;
const PartitionedMetadata = { topic: [1, "string"], requestId: [2, "u64"] } as const satisfies MsgSchema;
const PartitionedMetadataResponse = {
  partitions: [1, "u32"],
  requestId: [2, "u64"],
  response: [3, "u32"],
  error: [4, "u32"],
  message: [5, "string"],
} as const satisfies MsgSchema;
const Lookup = {
  topic: [1, "string"],
  requestId: [2, "u64"],
  authoritative: [3, "bool"],
  advertisedListenerName: [7, "string"],
} as const satisfies MsgSchema;
const LookupResponse = {
  brokerServiceUrl: [1, "string"],
  brokerServiceUrlTls: [2, "string"],
  response: [3, "u32"],
  requestId: [4, "u64"],
  authoritative: [5, "bool"],
  error: [6, "u32"],
  message: [7, "string"],
  proxyThroughServiceUrl: [8, "bool"],
} as const satisfies MsgSchema;
const ReachedEndOfTopic = { consumerId: [1, "u64"] } as const satisfies MsgSchema;
const Seek = {
  consumerId: [1, "u64"],
  requestId: [2, "u64"],
  messageId: [3, MessageIdData],
  messagePublishTime: [4, "u64"],
} as const satisfies MsgSchema;
const GetLastMessageId = { consumerId: [1, "u64"], requestId: [2, "u64"] } as const satisfies MsgSchema;
const GetLastMessageIdResponse = {
  lastMessageId: [1, MessageIdData],
  requestId: [2, "u64"],
  consumerMarkDeletePosition: [3, MessageIdData],
} as const satisfies MsgSchema;
const ActiveConsumerChange = { consumerId: [1, "u64"], isActive: [2, "bool"] } as const satisfies MsgSchema;
const GetTopicsOfNamespace = {
  requestId: [1, "u64"],
  namespace: [2, "string"],
  mode: [3, "u32"],
  topicsPattern: [4, "string"],
} as const satisfies MsgSchema;
const GetTopicsOfNamespaceResponse = {
  requestId: [1, "u64"],
  topics: [2, "string", "rep"],
  filtered: [3, "bool"],
} as const satisfies MsgSchema;
const GetSchema = {
  requestId: [1, "u64"],
  topic: [2, "string"],
  schemaVersion: [3, "bytes"],
} as const satisfies MsgSchema;
const GetSchemaResponse = {
  requestId: [1, "u64"],
  errorCode: [2, "u32"],
  errorMessage: [3, "string"],
  schema: [4, SchemaPb],
  schemaVersion: [5, "bytes"],
} as const satisfies MsgSchema;
const GetOrCreateSchema = {
  requestId: [1, "u64"],
  topic: [2, "string"],
  schema: [3, SchemaPb],
} as const satisfies MsgSchema;
const GetOrCreateSchemaResponse = {
  requestId: [1, "u64"],
  errorCode: [2, "u32"],
  errorMessage: [3, "string"],
  schemaVersion: [4, "bytes"],
} as const satisfies MsgSchema;
const TcClientConnectRequest = { requestId: [1, "u64"], tcId: [2, "u64"] } as const satisfies MsgSchema;
const TcClientConnectResponse = {
  requestId: [1, "u64"],
  error: [2, "u32"],
  message: [3, "string"],
} as const satisfies MsgSchema;
const NewTxn = { requestId: [1, "u64"], txnTtlSeconds: [2, "u64"], tcId: [3, "u64"] } as const satisfies MsgSchema;
const TxnResponse = {
  requestId: [1, "u64"],
  txnidLeastBits: [2, "u64"],
  txnidMostBits: [3, "u64"],
  error: [4, "u32"],
  message: [5, "string"],
} as const satisfies MsgSchema;
const AddPartitionToTxn = {
  requestId: [1, "u64"],
  txnidLeastBits: [2, "u64"],
  txnidMostBits: [3, "u64"],
  partitions: [4, "string", "rep"],
} as const satisfies MsgSchema;
const AddSubscriptionToTxn = {
  requestId: [1, "u64"],
  txnidLeastBits: [2, "u64"],
  txnidMostBits: [3, "u64"],
  subscription: [4, SubscriptionPb, "rep"],
} as const satisfies MsgSchema;
const EndTxn = {
  requestId: [1, "u64"],
  txnidLeastBits: [2, "u64"],
  txnidMostBits: [3, "u64"],
  txnAction: [4, "u32"],
} as const satisfies MsgSchema;
const TopicMigrated = {
  resourceId: [1, "u64"],
  resourceType: [2, "u32"],
  brokerServiceUrl: [3, "string"],
  brokerServiceUrlTls: [4, "string"],
} as const satisfies MsgSchema;

/** BaseCommand: field number of each sub-command equals its Type value. */
export const BaseCommand = {
  type: [1, "u32"],
  connect: [2, Connect],
  connected: [3, Connected],
  subscribe: [4, Subscribe],
  producer: [5, Producer],
  send: [6, Send],
  sendReceipt: [7, SendReceipt],
  sendError: [8, SendError],
  message: [9, MessageCmd],
  ack: [10, Ack],
  flow: [11, Flow],
  unsubscribe: [12, Unsubscribe],
  success: [13, Success],
  error: [14, ErrorCmd],
  closeProducer: [15, CloseProducer],
  closeConsumer: [16, CloseConsumer],
  producerSuccess: [17, ProducerSuccess],
  ping: [18, Empty],
  pong: [19, Empty],
  redeliverUnacknowledgedMessages: [20, Redeliver],
  partitionMetadata: [21, PartitionedMetadata],
  partitionMetadataResponse: [22, PartitionedMetadataResponse],
  lookupTopic: [23, Lookup],
  lookupTopicResponse: [24, LookupResponse],
  reachedEndOfTopic: [27, ReachedEndOfTopic],
  seek: [28, Seek],
  getLastMessageId: [29, GetLastMessageId],
  getLastMessageIdResponse: [30, GetLastMessageIdResponse],
  activeConsumerChange: [31, ActiveConsumerChange],
  getTopicsOfNamespace: [32, GetTopicsOfNamespace],
  getTopicsOfNamespaceResponse: [33, GetTopicsOfNamespaceResponse],
  getSchema: [34, GetSchema],
  getSchemaResponse: [35, GetSchemaResponse],
  authChallenge: [36, AuthChallenge],
  authResponse: [37, AuthResponse],
  ackResponse: [38, AckResponse],
  getOrCreateSchema: [39, GetOrCreateSchema],
  getOrCreateSchemaResponse: [40, GetOrCreateSchemaResponse],
  newTxn: [50, NewTxn],
  newTxnResponse: [51, TxnResponse],
  addPartitionToTxn: [52, AddPartitionToTxn],
  addPartitionToTxnResponse: [53, TxnResponse],
  addSubscriptionToTxn: [54, AddSubscriptionToTxn],
  addSubscriptionToTxnResponse: [55, TxnResponse],
  endTxn: [56, EndTxn],
  endTxnResponse: [57, TxnResponse],
  tcClientConnectRequest: [62, TcClientConnectRequest],
  tcClientConnectResponse: [63, TcClientConnectResponse],
  topicMigrated: [68, TopicMigrated],
} as const satisfies MsgSchema;

export type BaseCommandPb = Pb<typeof BaseCommand>;
export type MessageMetadataPb = Pb<typeof MessageMetadata>;
export type SingleMessageMetadataPb = Pb<typeof SingleMessageMetadata>;
export type MessageIdDataPb = Pb<typeof MessageIdData>;
export type SchemaInfoPb = Pb<typeof SchemaPb>;
export type KeyValuePb = Pb<typeof KeyValue>;

/** Type values of BaseCommand (== field numbers). */
export const CommandType = {
  CONNECT: 2,
  CONNECTED: 3,
  SUBSCRIBE: 4,
  PRODUCER: 5,
  SEND: 6,
  SEND_RECEIPT: 7,
  SEND_ERROR: 8,
  MESSAGE: 9,
  ACK: 10,
  FLOW: 11,
  UNSUBSCRIBE: 12,
  SUCCESS: 13,
  ERROR: 14,
  CLOSE_PRODUCER: 15,
  CLOSE_CONSUMER: 16,
  PRODUCER_SUCCESS: 17,
  PING: 18,
  PONG: 19,
  REDELIVER_UNACKNOWLEDGED_MESSAGES: 20,
  PARTITIONED_METADATA: 21,
  PARTITIONED_METADATA_RESPONSE: 22,
  LOOKUP: 23,
  LOOKUP_RESPONSE: 24,
  REACHED_END_OF_TOPIC: 27,
  SEEK: 28,
  GET_LAST_MESSAGE_ID: 29,
  GET_LAST_MESSAGE_ID_RESPONSE: 30,
  ACTIVE_CONSUMER_CHANGE: 31,
  GET_TOPICS_OF_NAMESPACE: 32,
  GET_TOPICS_OF_NAMESPACE_RESPONSE: 33,
  GET_SCHEMA: 34,
  GET_SCHEMA_RESPONSE: 35,
  AUTH_CHALLENGE: 36,
  AUTH_RESPONSE: 37,
  ACK_RESPONSE: 38,
  GET_OR_CREATE_SCHEMA: 39,
  GET_OR_CREATE_SCHEMA_RESPONSE: 40,
  NEW_TXN: 50,
  NEW_TXN_RESPONSE: 51,
  ADD_PARTITION_TO_TXN: 52,
  ADD_PARTITION_TO_TXN_RESPONSE: 53,
  ADD_SUBSCRIPTION_TO_TXN: 54,
  ADD_SUBSCRIPTION_TO_TXN_RESPONSE: 55,
  END_TXN: 56,
  END_TXN_RESPONSE: 57,
  TC_CLIENT_CONNECT_REQUEST: 62,
  TC_CLIENT_CONNECT_RESPONSE: 63,
  TOPIC_MIGRATED: 68,
} as const;

/** ServerError enum names by value. */
export const SERVER_ERRORS: readonly string[] = [
  "UnknownError",
  "MetadataError",
  "PersistenceError",
  "AuthenticationError",
  "AuthorizationError",
  "ConsumerBusy",
  "ServiceNotReady",
  "ProducerBlockedQuotaExceededError",
  "ProducerBlockedQuotaExceededException",
  "ChecksumError",
  "UnsupportedVersionError",
  "TopicNotFound",
  "SubscriptionNotFound",
  "ConsumerNotFound",
  "TooManyRequests",
  "TopicTerminatedError",
  "ProducerBusy",
  "InvalidTopicName",
  "IncompatibleSchema",
  "ConsumerAssignError",
  "TransactionCoordinatorNotFound",
  "InvalidTxnStatus",
  "NotAllowedError",
  "TransactionConflict",
  "TransactionNotFound",
  "ProducerFenced",
];
