import { inject } from "vitest";

/** Endpoints of the Pulsar broker that tooling/services started for this project. */
export function pulsarEndpoints(): { serviceUrl: string; adminUrl: string } {
  const services = inject("services" as never) as { pulsar?: { serviceUrl: string; webServiceUrl: string } };
  return {
    serviceUrl: services.pulsar?.serviceUrl ?? "pulsar://127.0.0.1:6650",
    adminUrl: services.pulsar?.webServiceUrl ?? "http://127.0.0.1:8080",
  };
}
