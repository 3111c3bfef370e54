package bench;

import io.debezium.engine.ChangeEvent;
import io.debezium.engine.DebeziumEngine;
import io.debezium.engine.format.Json;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pulsar.client.api.Producer;
import org.apache.pulsar.client.api.PulsarClient;
import org.apache.pulsar.client.api.Schema;

/**
 * Runs Debezium's PostgreSQL connector in the embedded engine and sends every change event to Pulsar
 * (topic = Debezium's topic name in BENCH_NAMESPACE), marking an event processed only after its send receipt.
 * Prints "STORED <count> <epoch ms>" each time the stored count passes a multiple of BENCH_REPORT_EVERY.
 */
public final class DebeziumToPulsar {
  public static void main(String[] args) throws Exception {
    Map<String, String> env = System.getenv();
    String namespace = env.getOrDefault("BENCH_NAMESPACE", "public/default");
    long reportEvery = Long.parseLong(env.getOrDefault("BENCH_REPORT_EVERY", "1000"));
    PulsarClient client = PulsarClient.builder().serviceUrl(env.get("PULSAR_SERVICE_URL")).build();
    Map<String, Producer<byte[]>> producers = new ConcurrentHashMap<>();
    AtomicLong stored = new AtomicLong();

    Properties props = new Properties();
    props.setProperty("name", "bench");
    props.setProperty("connector.class", "io.debezium.connector.postgresql.PostgresConnector");
    props.setProperty("offset.storage", "org.apache.kafka.connect.storage.FileOffsetBackingStore");
    props.setProperty("offset.storage.file.filename", env.get("BENCH_OFFSETS"));
    props.setProperty("offset.flush.interval.ms", "1000");
    props.setProperty("database.hostname", env.get("PG_HOST"));
    props.setProperty("database.port", env.get("PG_PORT"));
    props.setProperty("database.user", env.get("PG_USER"));
    props.setProperty("database.password", "");
    props.setProperty("database.dbname", env.get("PG_DB"));
    props.setProperty("topic.prefix", env.get("BENCH_PREFIX"));
    props.setProperty("plugin.name", "pgoutput");
    props.setProperty("slot.name", env.get("BENCH_SLOT"));
    props.setProperty("publication.name", env.get("BENCH_PUBLICATION"));
    props.setProperty("publication.autocreate.mode", "filtered");
    props.setProperty("table.include.list", env.get("BENCH_TABLE"));
    props.setProperty("snapshot.mode", "initial");
    props.setProperty("tombstones.on.delete", "false");
    props.setProperty("key.converter.schemas.enable", "false");
    props.setProperty("value.converter.schemas.enable", "false");

    DebeziumEngine<ChangeEvent<String, String>> engine =
        DebeziumEngine.create(Json.class)
            .using(props)
            .notifying(
                (records, committer) -> {
                  List<CompletableFuture<?>> receipts = new ArrayList<>(records.size());
                  for (ChangeEvent<String, String> record : records) {
                    if (record.value() == null) continue;
                    Producer<byte[]> producer =
                        producers.computeIfAbsent(
                            record.destination(),
                            topic -> {
                              try {
                                return client
                                    .newProducer(Schema.BYTES)
                                    .topic("persistent://" + namespace + "/" + topic)
                                    .enableBatching(true)
                                    .blockIfQueueFull(true)
                                    .create();
                              } catch (Exception e) {
                                throw new RuntimeException(e);
                              }
                            });
                    var message = producer.newMessage().value(record.value().getBytes(StandardCharsets.UTF_8));
                    if (record.key() != null) message = message.key(record.key());
                    receipts.add(message.sendAsync());
                  }
                  CompletableFuture.allOf(receipts.toArray(new CompletableFuture[0])).join();
                  for (ChangeEvent<String, String> record : records) committer.markProcessed(record);
                  committer.markBatchFinished();
                  long before = stored.get();
                  long after = stored.addAndGet(receipts.size());
                  if (after / reportEvery != before / reportEvery) {
                    System.out.println("STORED " + after + " " + System.currentTimeMillis());
                    System.out.flush();
                  }
                })
            .build();
    ExecutorService executor = Executors.newSingleThreadExecutor();
    executor.execute(engine);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  try {
                    engine.close();
                    client.close();
                  } catch (Exception ignored) {
                    // exiting anyway
                  }
                }));
    System.out.println("STARTED " + System.currentTimeMillis());
    System.out.flush();
    executor.awaitTermination(Long.MAX_VALUE, java.util.concurrent.TimeUnit.DAYS);
  }
}
