import type { ServiceName } from "./config.ts";

export interface PulsarEndpoint {
  host: string;
  /** Binary protocol port. */
  port: number;
  webPort: number;
  bookiePort: number;
  serviceUrl: string;
  webServiceUrl: string;
}

export interface KafkaEndpoint {
  host: string;
  port: number;
  controllerPort: number;
  brokers: string[];
}

export interface CassandraEndpoint {
  host: string;
  port: number;
  storagePort: number;
  contactPoints: string[];
  localDataCenter: string;
}

export interface PostgresEndpoint {
  host: string;
  port: number;
  user: string;
  database: string;
  connectionString: string;
}

export interface MariadbEndpoint {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

export interface S3proxyEndpoint {
  host: string;
  port: number;
  /** S3 API base URL; buckets are addressed path-style. */
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export interface RedisEndpoint {
  host: string;
  port: number;
  /** redis://host:port */
  url: string;
}

export interface RabbitmqEndpoint {
  host: string;
  port: number;
  username: string;
  password: string;
  /** amqp://user:password@host:port */
  url: string;
}

export interface NatsEndpoint {
  host: string;
  port: number;
  /** nats://host:port */
  servers: string;
}

export interface MosquittoEndpoint {
  host: string;
  port: number;
  /** mqtt://host:port */
  url: string;
}

export interface InfluxdbEndpoint {
  host: string;
  port: number;
  /** http://host:port (the 1.x HTTP API: /ping, /write, /query) */
  url: string;
}

export interface ServiceEndpoints {
  pulsar: PulsarEndpoint;
  kafka: KafkaEndpoint;
  cassandra: CassandraEndpoint;
  postgres: PostgresEndpoint;
  "postgres-logical": PostgresEndpoint;
  mariadb: MariadbEndpoint;
  s3proxy: S3proxyEndpoint;
  redis: RedisEndpoint;
  rabbitmq: RabbitmqEndpoint;
  nats: NatsEndpoint;
  mosquitto: MosquittoEndpoint;
  influxdb: InfluxdbEndpoint;
}

export type AnyEndpoint = ServiceEndpoints[ServiceName];
