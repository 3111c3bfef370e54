// Frames checked against a general protobuf library: commands and message metadata written by the client's own
// encoder are decoded by protobufjs from the upstream field numbers, and frames built with protobufjs are parsed by
// the client. A field number wrong on both sides of the client's codec shows up here.
import protobuf from "protobufjs";
import { describe, expect, it } from "vitest";
import { crc32c } from "./crc32c.ts";
import { encodeCommand, encodePayloadCommand, parseFrame } from "./frame.ts";

// The part of Pulsar's PulsarApi.proto these tests touch, with its field numbers.
const proto = `
syntax = "proto2";
package pulsar.proto;
message KeyValue { required string key = 1; required string value = 2; }
message MessageIdData {
  required uint64 ledgerId = 1; required uint64 entryId = 2; optional int32 partition = 3 [default = -1];
  optional int32 batch_index = 4 [default = -1]; repeated int64 ack_set = 5; optional int32 batch_size = 6;
}
message MessageMetadata {
  required string producer_name = 1; required uint64 sequence_id = 2; required uint64 publish_time = 3;
  repeated KeyValue properties = 4; optional string partition_key = 6; optional uint32 compression = 8;
  optional uint32 uncompressed_size = 9; optional int32 num_messages_in_batch = 11; optional uint64 event_time = 12;
  optional bytes ordering_key = 18; optional int64 deliver_at_time = 19; optional uint64 txnid_least_bits = 22;
  optional uint64 txnid_most_bits = 23; optional uint64 highest_sequence_id = 24; optional bool null_value = 25;
  optional int32 num_chunks_from_msg = 27; optional int32 chunk_id = 29;
}
message FeatureFlags { optional bool supports_auth_refresh = 1; optional bool supports_broker_entry_metadata = 2; }
message CommandConnect {
  required string client_version = 1; optional bytes auth_data = 3; optional int32 protocol_version = 4;
  optional string auth_method_name = 5; optional FeatureFlags feature_flags = 10;
}
message CommandSend {
  required uint64 producer_id = 1; required uint64 sequence_id = 2; optional int32 num_messages = 3;
  optional uint64 txnid_least_bits = 4; optional uint64 txnid_most_bits = 5; optional uint64 highest_sequence_id = 6;
  optional bool is_chunk = 7;
}
message CommandMessage {
  required uint64 consumer_id = 1; required MessageIdData message_id = 2; optional uint32 redelivery_count = 3;
  repeated int64 ack_set = 4;
}
message BaseCommand {
  required int32 type = 1; optional CommandConnect connect = 2; optional CommandSend send = 6;
  optional CommandMessage message = 9;
}
`;
const root = protobuf.parse(proto, { keepCase: true }).root;
const BaseCommand = root.lookupType("pulsar.proto.BaseCommand");
const MessageMetadata = root.lookupType("pulsar.proto.MessageMetadata");
// Upstream BaseCommand.Type values.
const CONNECT = 2;
const SEND = 6;
const MESSAGE = 9;

const asObject = (type: protobuf.Type, bytes: Uint8Array) =>
  type.toObject(type.decode(bytes), { longs: String, bytes: Buffer, defaults: false });

describe("frames against protobufjs", () => {
  it("CONNECT written by the client decodes with the upstream field numbers", () => {
    const frame = encodeCommand({
      type: CONNECT,
      connect: {
        clientVersion: "pulsar-connect-test",
        protocolVersion: 21,
        authMethodName: "token",
        authData: Buffer.from("secret-token"),
        featureFlags: { supportsAuthRefresh: true, supportsBrokerEntryMetadata: true },
      },
    });
    expect(frame.readUInt32BE(0)).toBe(frame.length - 4);
    const commandSize = frame.readUInt32BE(4);
    expect(commandSize).toBe(frame.length - 8);
    expect(asObject(BaseCommand, frame.subarray(8))).toEqual({
      type: CONNECT,
      connect: {
        client_version: "pulsar-connect-test",
        protocol_version: 21,
        auth_method_name: "token",
        auth_data: Buffer.from("secret-token"),
        feature_flags: { supports_auth_refresh: true, supports_broker_entry_metadata: true },
      },
    });
  });

  it("SEND written by the client: command, checksum, metadata and payload decode independently", () => {
    const payload = Buffer.from("hello, broker");
    const frame = encodePayloadCommand(
      {
        type: SEND,
        send: { producerId: 3n, sequenceId: 2n ** 40n + 7n, numMessages: 1, txnidLeastBits: 9n, txnidMostBits: 1n },
      },
      {
        producerName: "p-1",
        sequenceId: 2n ** 40n + 7n,
        publishTime: 1_700_000_000_123n,
        properties: [{ key: "k", value: "v" }],
        partitionKey: "customer-7",
        eventTime: 42n,
        orderingKey: Buffer.from([1, 2]),
        nullValue: false,
      },
      payload,
    );
    const commandSize = frame.readUInt32BE(4);
    const commandEnd = 8 + commandSize;
    expect(asObject(BaseCommand, frame.subarray(8, commandEnd))).toEqual({
      type: SEND,
      send: {
        producer_id: "3",
        sequence_id: String(2n ** 40n + 7n),
        num_messages: 1,
        txnid_least_bits: "9",
        txnid_most_bits: "1",
      },
    });
    expect(frame.readUInt16BE(commandEnd)).toBe(0x0e01);
    const checksum = frame.readUInt32BE(commandEnd + 2);
    expect(crc32c(frame, commandEnd + 6, frame.length)).toBe(checksum);
    const metadataSize = frame.readUInt32BE(commandEnd + 6);
    const metadataStart = commandEnd + 10;
    expect(asObject(MessageMetadata, frame.subarray(metadataStart, metadataStart + metadataSize))).toEqual({
      producer_name: "p-1",
      sequence_id: String(2n ** 40n + 7n),
      publish_time: "1700000000123",
      properties: [{ key: "k", value: "v" }],
      partition_key: "customer-7",
      event_time: "42",
      ordering_key: Buffer.from([1, 2]),
      null_value: false,
    });
    expect(frame.subarray(metadataStart + metadataSize)).toEqual(payload);
  });

  it("a MESSAGE frame built with protobufjs parses in the client, field by field", () => {
    const command = BaseCommand.encode(
      BaseCommand.fromObject({
        type: MESSAGE,
        message: {
          consumer_id: 11,
          message_id: { ledgerId: 1234, entryId: 56, partition: 2, batch_index: 3, batch_size: 10 },
          redelivery_count: 4,
        },
      }),
    ).finish();
    const metadata = MessageMetadata.encode(
      MessageMetadata.fromObject({
        producer_name: "java-producer",
        sequence_id: 77,
        publish_time: 1_700_000_000_000,
        properties: [{ key: "a", value: "b" }],
        partition_key: "key-1",
        num_messages_in_batch: 10,
        compression: 0,
      }),
    ).finish();
    const payload = Buffer.from("body");
    const afterChecksum = Buffer.concat([Buffer.alloc(4), Buffer.from(metadata), payload]);
    afterChecksum.writeUInt32BE(metadata.length, 0);
    const checksum = Buffer.alloc(4);
    checksum.writeUInt32BE(crc32c(afterChecksum, 0, afterChecksum.length), 0);
    const commandSize = Buffer.alloc(4);
    commandSize.writeUInt32BE(command.length, 0);
    const body = Buffer.concat([commandSize, Buffer.from(command), Buffer.from([0x0e, 0x01]), checksum, afterChecksum]);

    const frame = parseFrame(body);
    expect(frame.checksumOk).toBe(true);
    expect(frame.command.type).toBe(MESSAGE);
    expect(frame.command.message).toMatchObject({
      consumerId: 11n,
      messageId: { ledgerId: 1234n, entryId: 56n, partition: 2, batchIndex: 3, batchSize: 10 },
      redeliveryCount: 4,
    });
    expect(frame.metadata).toMatchObject({
      producerName: "java-producer",
      sequenceId: 77n,
      publishTime: 1_700_000_000_000n,
      properties: [{ key: "a", value: "b" }],
      partitionKey: "key-1",
      numMessagesInBatch: 10,
    });
    expect(frame.payload).toEqual(payload);
  });
});
