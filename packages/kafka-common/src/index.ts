export { type KafkaSecurityFields, kafkaSecurityFields } from "./internal/fields.ts";
export {
  brokerList,
  checkSecurity,
  isRetriable,
  kafkaLogCreator,
  parseJaasCredentials,
  type SecurityConfig,
  securityOptions,
} from "./internal/security.ts";
