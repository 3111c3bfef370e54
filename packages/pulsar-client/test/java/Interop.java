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
        case "produce-chunked" -> produceChunked(client, args[2], Integer.parseInt(args[3]));
        case "produce-large" -> produceLarge(client, args[2], Integer.parseInt(args[3]));
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
}
