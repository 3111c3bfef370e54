// Counterpart for java-interop.integration.test.ts: drives Apache Pulsar's own Java client so the test can check
// wire compatibility in both directions. Results go to stdout as "RESULT<TAB>..." lines.
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.pulsar.client.api.CompressionType;
import org.apache.pulsar.client.api.Consumer;
import org.apache.pulsar.client.api.Message;
import org.apache.pulsar.client.api.MessageId;
import org.apache.pulsar.client.api.MessageIdAdv;
import org.apache.pulsar.client.api.Producer;
import org.apache.pulsar.client.api.PulsarClient;
import org.apache.pulsar.client.api.SubscriptionInitialPosition;

public class Interop {
  public static void main(String[] args) throws Exception {
    String serviceUrl = args[0];
    String mode = args[1];
    try (PulsarClient client = PulsarClient.builder().serviceUrl(serviceUrl).build()) {
      switch (mode) {
        case "produce" -> produce(client, args[2], Integer.parseInt(args[3]));
        case "route" -> route(client, args[2], args);
        case "consume" -> consume(client, args[2], Integer.parseInt(args[3]));
        case "drain-with-receipts" -> drainWithReceipts(client, args[2], args[3], Integer.parseInt(args[4]));
        case "produce-chunked" -> produceChunked(client, args[2], Integer.parseInt(args[3]));
        case "produce-large" -> produceLarge(client, args[2], Integer.parseInt(args[3]));
        case "matrix-produce" -> matrixProduce(client, java.util.Arrays.copyOfRange(args, 2, args.length));
        case "matrix-consume" -> matrixConsume(client, java.util.Arrays.copyOfRange(args, 2, args.length));
        case "records-consume" -> recordsConsume(client, java.util.Arrays.copyOfRange(args, 2, args.length));
        case "key-value-consume" -> keyValueConsume(client, args[2], Integer.parseInt(args[3]));
        case "produce-avro-versions" -> produceAvroVersions(client, args[2], java.util.Arrays.copyOfRange(args, 3, args.length));
        default -> throw new IllegalArgumentException(mode);
      }
    }
    System.out.flush();
    System.exit(0);
  }

  // One batched producer per codec on <prefix>-<CODEC>, keys, properties and event times set.
  static void produce(PulsarClient client, String prefix, int count) throws Exception {
    for (CompressionType type : new CompressionType[] {
        CompressionType.NONE, CompressionType.LZ4, CompressionType.ZLIB, CompressionType.ZSTD, CompressionType.SNAPPY}) {
      try (Producer<byte[]> producer = client.newProducer().topic(prefix + "-" + type).compressionType(type)
          .enableBatching(true).batchingMaxMessages(50).batchingMaxPublishDelay(50, TimeUnit.MILLISECONDS).create()) {
        for (int i = 0; i < count; i++) {
          producer.newMessage().key("k" + (i % 7)).property("i", Integer.toString(i)).eventTime(1000L + i)
              .value(("java-" + type + "-" + i).getBytes(StandardCharsets.UTF_8)).sendAsync();
        }
        producer.flush();
      }
      System.out.println("RESULT\tproduced\t" + type);
    }
  }

  // One chunked message of <size> bytes (byte i = i * 31 mod 251), chunks of 100 kB.
  static void produceChunked(PulsarClient client, String topic, int size) throws Exception {
    byte[] value = new byte[size];
    for (int i = 0; i < size; i++) value[i] = (byte) ((i * 31L) % 251);
    try (Producer<byte[]> producer = client.newProducer().topic(topic).enableBatching(false).enableChunking(true)
        .chunkMaxMessageSize(100_000).compressionType(CompressionType.LZ4).create()) {
      producer.newMessage().key("chunked").value(value).send();
    }
    System.out.println("RESULT\tproduced-chunked\t" + size);
  }

  // One unbatched LZ4 message of <size> bytes of 'x': the Java producer checks only the compressed size against the
  // broker limit, so it declares an uncompressed size far above it.
  static void produceLarge(PulsarClient client, String topic, int size) throws Exception {
    byte[] value = new byte[size];
    java.util.Arrays.fill(value, (byte) 'x');
    try (Producer<byte[]> producer = client.newProducer().topic(topic).enableBatching(false)
        .compressionType(CompressionType.LZ4).create()) {
      producer.newMessage().key("large").value(value).send();
    }
    System.out.println("RESULT\tproduced-large\t" + size);
  }

  // One message per Avro definition given, each through a producer of that schema version: record fields id (long),
  // name (string) and email (nullable string) where the definition has them.
  static void produceAvroVersions(PulsarClient client, String topic, String[] definitions) throws Exception {
    for (int v = 0; v < definitions.length; v++) {
      org.apache.pulsar.common.schema.SchemaInfo info = org.apache.pulsar.common.schema.SchemaInfo.builder().name("User")
          .type(org.apache.pulsar.common.schema.SchemaType.AVRO)
          .schema(definitions[v].getBytes(StandardCharsets.UTF_8)).properties(Map.of()).build();
      org.apache.pulsar.client.api.schema.GenericSchema<org.apache.pulsar.client.api.schema.GenericRecord> schema =
          org.apache.pulsar.client.api.Schema.generic(info);
      try (Producer<org.apache.pulsar.client.api.schema.GenericRecord> producer =
          client.newProducer(schema).topic(topic).enableBatching(false).create()) {
        org.apache.pulsar.client.api.schema.GenericRecordBuilder record = schema.newRecordBuilder().set("id", (long) v);
        for (org.apache.pulsar.client.api.schema.Field field : schema.getFields()) {
          if (field.getName().equals("name")) record.set("name", "name-" + v);
          if (field.getName().equals("email")) record.set("email", "user" + v + "@example.com");
        }
        producer.newMessage().key("v" + v).value(record.build()).send();
      }
      System.out.println("RESULT\tproduced-avro\t" + v);
    }
  }

  /** The record of the JSON and AVRO matrix cells. */
  public static class User {
    public long id;
    public String name;

    public User() {}

    User(long id, String name) {
      this.id = id;
      this.name = name;
    }
  }

  /** Payload of chunked matrix cells: incompressible bytes from a linear congruential generator seeded with i + 1. */
  static byte[] bigValue(int i, int size) {
    byte[] out = new byte[size];
    long x = i + 1;
    for (int j = 0; j < size; j++) {
      x = (x * 1103515245L + 12345L) & 0x7fffffffL;
      out[j] = (byte) (x >>> 16);
    }
    return out;
  }

  // Each spec "topic|codec|batching|chunking|schema|count": messages i = 0..count-1 with key k<i%5> (KV_SEPARATED:
  // the KeyValue key), property i, event time 1000+i, ordering key o<i%3>.
  static void matrixProduce(PulsarClient client, String[] specs) throws Exception {
    inParallel(specs, spec -> {
      String[] f = spec.split("\\|");
      String topic = f[0];
      CompressionType codec = CompressionType.valueOf(f[1]);
      boolean batching = Boolean.parseBoolean(f[2]);
      boolean chunking = Boolean.parseBoolean(f[3]);
      int count = Integer.parseInt(f[5]);
      switch (f[4]) {
        case "BYTES" -> produceTyped(client, org.apache.pulsar.client.api.Schema.BYTES, topic, codec, batching, chunking,
            count, true, i -> chunking ? bigValue(i, 250_000) : ("bytes-" + i).getBytes(StandardCharsets.UTF_8));
        case "STRING" -> produceTyped(client, org.apache.pulsar.client.api.Schema.STRING, topic, codec, batching, chunking,
            count, true, i -> "string-" + i);
        case "JSON" -> produceTyped(client, org.apache.pulsar.client.api.Schema.JSON(User.class), topic, codec, batching,
            chunking, count, true, i -> new User(i, "name-" + i));
        case "AVRO" -> produceTyped(client, org.apache.pulsar.client.api.Schema.AVRO(User.class), topic, codec, batching,
            chunking, count, true, i -> new User(i, "name-" + i));
        case "KV_INLINE" -> produceTyped(client, org.apache.pulsar.client.api.Schema.KeyValue(
            org.apache.pulsar.client.api.Schema.STRING, org.apache.pulsar.client.api.Schema.INT32,
            org.apache.pulsar.common.schema.KeyValueEncodingType.INLINE), topic, codec, batching, chunking, count, true,
            i -> new org.apache.pulsar.common.schema.KeyValue<>("kvkey-" + i, i));
        case "KV_SEPARATED" -> produceTyped(client, org.apache.pulsar.client.api.Schema.KeyValue(
            org.apache.pulsar.client.api.Schema.STRING, org.apache.pulsar.client.api.Schema.INT32,
            org.apache.pulsar.common.schema.KeyValueEncodingType.SEPARATED), topic, codec, batching, chunking, count,
            false, i -> new org.apache.pulsar.common.schema.KeyValue<>("k" + (i % 5), i));
        default -> throw new IllegalArgumentException(f[4]);
      }
      System.out.println("RESULT\tproduced\t" + topic + "\t" + count);
    });
  }

  interface Cell {
    void run(String spec) throws Exception;
  }

  // Runs the cells on 8 threads (each cell's topics and order are its own); the first failure fails the run.
  static void inParallel(String[] specs, Cell cell) throws Exception {
    java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(8);
    try {
      java.util.List<java.util.concurrent.Future<?>> running = new java.util.ArrayList<>();
      for (String spec : specs) {
        running.add(pool.submit(() -> {
          cell.run(spec);
          return null;
        }));
      }
      for (java.util.concurrent.Future<?> f : running) f.get();
    } finally {
      pool.shutdownNow();
    }
  }

  static <T> void produceTyped(PulsarClient client, org.apache.pulsar.client.api.Schema<T> schema, String topic,
      CompressionType codec, boolean batching, boolean chunking, int count, boolean setKey,
      java.util.function.IntFunction<T> value) throws Exception {
    org.apache.pulsar.client.api.ProducerBuilder<T> builder = client.newProducer(schema).topic(topic)
        .compressionType(codec).enableBatching(batching).blockIfQueueFull(true);
    if (batching) builder.batchingMaxMessages(7).batchingMaxPublishDelay(20, TimeUnit.MILLISECONDS);
    if (chunking) builder.enableChunking(true).chunkMaxMessageSize(100_000);
    try (Producer<T> producer = builder.create()) {
      java.util.List<java.util.concurrent.CompletableFuture<MessageId>> sent = new java.util.ArrayList<>();
      for (int i = 0; i < count; i++) {
        org.apache.pulsar.client.api.TypedMessageBuilder<T> m = producer.newMessage().value(value.apply(i))
            .property("i", Integer.toString(i)).eventTime(1000L + i)
            .orderingKey(("o" + (i % 3)).getBytes(StandardCharsets.UTF_8));
        if (setKey) m.key("k" + (i % 5));
        sent.add(m.sendAsync());
      }
      producer.flush();
      for (java.util.concurrent.CompletableFuture<MessageId> f : sent) f.get(60, TimeUnit.SECONDS);
    }
  }

  // Each spec "topic|count": reads with AUTO_CONSUME (the topic's own schema) and prints one line per message:
  // topic, rendered value, key, properties, event time, ordering key, schema version (hex), partition index.
  static void matrixConsume(PulsarClient client, String[] specs) throws Exception {
    inParallel(specs, spec -> {
      String[] f = spec.split("\\|");
      int count = Integer.parseInt(f[1]);
      try (Consumer<org.apache.pulsar.client.api.schema.GenericRecord> consumer =
          client.newConsumer(org.apache.pulsar.client.api.Schema.AUTO_CONSUME()).topic(f[0])
              .subscriptionName("java-matrix").subscriptionInitialPosition(SubscriptionInitialPosition.Earliest)
              .subscribe()) {
        for (int i = 0; i < count; i++) {
          Message<org.apache.pulsar.client.api.schema.GenericRecord> m = consumer.receive(30, TimeUnit.SECONDS);
          if (m == null) throw new IllegalStateException("no message " + i + " on " + f[0]);
          StringBuilder props = new StringBuilder();
          for (Map.Entry<String, String> e : new java.util.TreeMap<>(m.getProperties()).entrySet()) {
            props.append(e.getKey()).append('=').append(e.getValue()).append(';');
          }
          byte[] version = m.getSchemaVersion();
          String line = "RESULT\tmsg\t" + f[0] + "\t" + render(m) + "\t" + m.getKey() + "\t" + props + "\t"
              + m.getEventTime() + "\t"
              + (m.hasOrderingKey() ? new String(m.getOrderingKey(), StandardCharsets.UTF_8) : "") + "\t"
              + (version == null ? "" : java.util.HexFormat.of().formatHex(version)) + "\t"
              + ((MessageIdAdv) m.getMessageId()).getPartitionIndex();
          synchronized (System.out) {
            System.out.println(line);
          }
          consumer.acknowledge(m);
        }
      }
    });
  }

  // Each spec "topic|count": reads with AUTO_CONSUME (the value is decoded by the topic's schema, so a payload the
  // schema cannot read fails the run) and prints one line per message: topic, key, properties, event time, schema
  // type, schema version (hex), payload (base64), partition index.
  static void recordsConsume(PulsarClient client, String[] specs) throws Exception {
    inParallel(specs, spec -> {
      String[] f = spec.split("\\|");
      int count = Integer.parseInt(f[1]);
      try (Consumer<org.apache.pulsar.client.api.schema.GenericRecord> consumer =
          client.newConsumer(org.apache.pulsar.client.api.Schema.AUTO_CONSUME()).topic(f[0])
              .subscriptionName("java-records").subscriptionInitialPosition(SubscriptionInitialPosition.Earliest)
              .receiverQueueSize(2000).subscribe()) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < count; i++) {
          Message<org.apache.pulsar.client.api.schema.GenericRecord> m = consumer.receive(30, TimeUnit.SECONDS);
          if (m == null) throw new IllegalStateException("no message " + i + " of " + count + " on " + f[0]);
          StringBuilder props = new StringBuilder();
          for (Map.Entry<String, String> e : new java.util.TreeMap<>(m.getProperties()).entrySet()) {
            props.append(e.getKey()).append('=').append(e.getValue()).append(';');
          }
          byte[] version = m.getSchemaVersion();
          out.append("RESULT\trecord\t").append(f[0]).append('\t').append(m.getKey()).append('\t').append(props)
              .append('\t').append(m.getEventTime()).append('\t').append(m.getValue().getSchemaType()).append('\t')
              .append(version == null ? "" : java.util.HexFormat.of().formatHex(version)).append('\t')
              .append(java.util.Base64.getEncoder().encodeToString(m.getData())).append('\t')
              .append(((MessageIdAdv) m.getMessageId()).getPartitionIndex()).append('\n');
          consumer.acknowledge(m);
        }
        synchronized (System.out) {
          System.out.print(out);
        }
      }
    });
  }

  // Reads `count` messages of a KeyValue topic with AUTO_CONSUME and prints one line per message: the key and value
  // schema types and the encoding of the schema the message was read with, the message key as sent, whether it is
  // base64, the key decoded from the key bytes, then the decoded key and value as JSON.
  static void keyValueConsume(PulsarClient client, String topic, int count) throws Exception {
    try (Consumer<org.apache.pulsar.client.api.schema.GenericRecord> consumer =
        client.newConsumer(org.apache.pulsar.client.api.Schema.AUTO_CONSUME()).topic(topic)
            .subscriptionName("java-key-value").subscriptionInitialPosition(SubscriptionInitialPosition.Earliest)
            .subscribe()) {
      for (int i = 0; i < count; i++) {
        Message<org.apache.pulsar.client.api.schema.GenericRecord> m = consumer.receive(30, TimeUnit.SECONDS);
        if (m == null) throw new IllegalStateException("no message " + i + " of " + count + " on " + topic);
        org.apache.pulsar.common.schema.SchemaInfo info = m.getReaderSchema().orElseThrow().getSchemaInfo();
        org.apache.pulsar.common.schema.KeyValue<org.apache.pulsar.common.schema.SchemaInfo,
            org.apache.pulsar.common.schema.SchemaInfo> parts =
            org.apache.pulsar.client.impl.schema.KeyValueSchemaInfo.decodeKeyValueSchemaInfo(info);
        org.apache.pulsar.common.schema.KeyValue<?, ?> kv =
            (org.apache.pulsar.common.schema.KeyValue<?, ?>) m.getValue().getNativeObject();
        System.out.println("RESULT\tkv\t" + m.getValue().getSchemaType() + "\t" + parts.getKey().getType() + "\t"
            + parts.getValue().getType() + "\t"
            + org.apache.pulsar.client.impl.schema.KeyValueSchemaInfo.decodeKeyValueEncodingType(info) + "\t"
            + m.getKey() + "\t" + m.hasBase64EncodedKey() + "\t"
            + (m.hasKey() ? new String(m.getKeyBytes(), StandardCharsets.UTF_8) : "") + "\t"
            + nativeJson(kv.getKey()) + "\t" + nativeJson(kv.getValue()));
        consumer.acknowledge(m);
      }
    }
  }

  static String nativeJson(Object part) {
    if (part == null) return "null";
    if (part instanceof org.apache.pulsar.client.api.schema.GenericRecord record) {
      return String.valueOf(record.getNativeObject());
    }
    return String.valueOf(part);
  }

  static String render(Message<org.apache.pulsar.client.api.schema.GenericRecord> m) {
    org.apache.pulsar.client.api.schema.GenericRecord r = m.getValue();
    return switch (r.getSchemaType()) {
      case STRING -> "STRING:" + r.getNativeObject();
      case JSON, AVRO -> r.getSchemaType() + ":" + r.getField("id") + ":" + r.getField("name");
      case KEY_VALUE -> {
        org.apache.pulsar.common.schema.KeyValue<?, ?> kv = (org.apache.pulsar.common.schema.KeyValue<?, ?>) r.getNativeObject();
        yield "KEY_VALUE:" + kv.getKey() + "=" + kv.getValue();
      }
      default -> r.getSchemaType() + ":" + m.getData().length + ":" + crc32(m.getData());
    };
  }

  // The Java client's default router: prints key and the partition it chose.
  static void route(PulsarClient client, String topic, String[] args) throws Exception {
    try (Producer<byte[]> producer = client.newProducer().topic(topic).enableBatching(false).create()) {
      for (int i = 3; i < args.length; i++) {
        MessageId id = producer.newMessage().key(args[i]).value(args[i].getBytes(StandardCharsets.UTF_8)).send();
        System.out.println("RESULT\troute\t" + args[i] + "\t" + ((MessageIdAdv) id).getPartitionIndex());
      }
    }
  }

  static long crc32(byte[] data) {
    java.util.zip.CRC32 crc = new java.util.zip.CRC32();
    crc.update(data);
    return crc.getValue();
  }

  static void consume(PulsarClient client, String topic, int count) throws Exception {
    try (Consumer<byte[]> consumer = client.newConsumer().topic(topic).subscriptionName("java-check")
        .subscriptionInitialPosition(SubscriptionInitialPosition.Earliest).subscribe()) {
      for (int i = 0; i < count; i++) {
        Message<byte[]> m = consumer.receive(30, TimeUnit.SECONDS);
        if (m == null) throw new IllegalStateException("no message " + i);
        StringBuilder props = new StringBuilder();
        for (Map.Entry<String, String> e : m.getProperties().entrySet()) props.append(e.getKey()).append('=').append(e.getValue()).append(';');
        System.out.println("RESULT\tmsg\t" + new String(m.getValue(), StandardCharsets.UTF_8).replaceAll("[\\t\\r\\n]", " ") + "\t" + m.getKey() + "\t"
            + props + "\t" + m.getEventTime() + "\t" + m.getSequenceId() + "\t"
            + java.util.Base64.getEncoder().encodeToString(m.getMessageId().toByteArray()) + "\t"
            + m.getValue().length + "\t" + crc32(m.getValue()));
        consumer.acknowledge(m);
      }
    }
  }

  // Reads what subscription <sub> still has (until nothing comes for <quietMs>), acknowledging each message with the
  // ack receipt on: every acknowledge returns once the broker answered.
  static void drainWithReceipts(PulsarClient client, String topic, String sub, int quietMs) throws Exception {
    try (Consumer<byte[]> consumer = client.newConsumer().topic(topic).subscriptionName(sub)
        .subscriptionInitialPosition(SubscriptionInitialPosition.Earliest).isAckReceiptEnabled(true).subscribe()) {
      for (;;) {
        Message<byte[]> m = consumer.receive(quietMs, TimeUnit.MILLISECONDS);
        if (m == null) break;
        consumer.acknowledge(m);
        System.out.println("RESULT\tmsg\t" + new String(m.getValue(), StandardCharsets.UTF_8));
      }
    }
  }
}
