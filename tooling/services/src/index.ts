export {
  HOST,
  isServiceName,
  jarsRoot,
  parseServiceNames,
  runRoot,
  SERVICE_NAMES,
  type ServiceName,
} from "./internal/config.ts";
export type {
  CassandraEndpoint,
  InfluxdbEndpoint,
  KafkaEndpoint,
  MariadbEndpoint,
  MosquittoEndpoint,
  NatsEndpoint,
  PostgresEndpoint,
  PulsarEndpoint,
  RabbitmqEndpoint,
  RedisEndpoint,
  S3proxyEndpoint,
  ServiceEndpoints,
} from "./internal/endpoints.ts";
export { ServicesError, type ServicesErrorCode } from "./internal/errors.ts";
export { describeUp, statusTable } from "./internal/format.ts";
export { servicesListedIn, servicesOfWorkspace } from "./internal/manifest.ts";
export {
  ensureServices,
  type ServiceCondition,
  type ServiceStatus,
  type StopResult,
  serviceStatus,
  stopServices,
  type UpAction,
  type UpOptions,
  type UpResult,
  upServices,
} from "./internal/services.ts";
