import "vitest";

declare module "vitest" {
  export interface ProvidedContext {
    /** Endpoints of the servers of test/services.json (provided by the services global setup). */
    services: {
      pulsar?: { serviceUrl: string; webServiceUrl: string };
      "postgres-logical"?: import("@pulsar-connect/services").PostgresEndpoint;
    };
  }
}
