import { compatOnly, z } from "@pulsar-connect/core";

type SecurityProtocol = "PLAINTEXT" | "SSL" | "SASL_PLAINTEXT" | "SASL_SSL";
type SaslMechanism = "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512";

/** An optional text field where an empty string reads as "not set". */
type OptionalText = z.ZodPipe<z.ZodOptional<z.ZodString>, z.ZodTransform<string | undefined, string | undefined>>;

/** The zod shape of the security fields. */
export type KafkaSecurityFields = {
  securityProtocol: z.ZodPipe<
    z.ZodOptional<z.ZodEnum<{ [K in SecurityProtocol | ""]: K }>>,
    z.ZodTransform<SecurityProtocol | undefined, SecurityProtocol | "" | undefined>
  >;
  saslMechanism: z.ZodPipe<
    z.ZodOptional<z.ZodEnum<{ [K in SaslMechanism | ""]: K }>>,
    z.ZodTransform<SaslMechanism | undefined, SaslMechanism | "" | undefined>
  >;
  saslJaasConfig: OptionalText;
  sslEnabledProtocols: OptionalText;
  sslEndpointIdentificationAlgorithm: z.ZodOptional<z.ZodString>;
  sslTruststoreLocation: OptionalText;
  sslTruststorePassword: OptionalText;
};

// Upstream treats an empty string as "not set"; so do we.
const optionalText = z
  .string()
  .optional()
  .transform((value) => (value === "" ? undefined : value));

/** Connection and security fields (upstream names), to spread into a connector's config object. */
export const kafkaSecurityFields: KafkaSecurityFields = {
  securityProtocol: z
    .enum(["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL", ""])
    .optional()
    .transform((value) => (value === "" ? undefined : value))
    .describe("Kafka security.protocol: PLAINTEXT (default), SSL, SASL_PLAINTEXT or SASL_SSL"),
  saslMechanism: z
    .enum(["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", ""])
    .optional()
    .transform((value) => (value === "" ? undefined : value))
    .describe("Kafka sasl.mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"),
  saslJaasConfig: optionalText
    .meta({ sensitive: true })
    .describe('Kafka sasl.jaas.config; username="..." and password="..." are read from it'),
  sslEnabledProtocols: optionalText.describe("Comma list of TLS versions, e.g. TLSv1.2,TLSv1.3"),
  sslEndpointIdentificationAlgorithm: z
    .string()
    .optional()
    .describe("https (default when TLS is on) verifies the broker host name; set to an empty string to skip the check"),
  sslTruststoreLocation: optionalText.describe("PEM file with the CA certificates to trust (JKS stores are not read)"),
  sslTruststorePassword: compatOnly(
    optionalText.meta({ sensitive: true }),
    "trust stores are PEM files, which have no password",
  ).describe("Upstream trust store password"),
};
