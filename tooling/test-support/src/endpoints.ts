import type { ServiceEndpoints } from "@pulsar-connect/services";
// Brings in the typing of `inject("services")` that the services global setup provides.
import type {} from "@pulsar-connect/services/vitest-setup";
import { inject } from "vitest";

/** Endpoints of the servers listed in the running project's test/services.json. */
export function services(): Partial<ServiceEndpoints> {
  return inject("services");
}

/** The endpoint of a server the project's test/services.json lists; throws naming the file when it is missing. */
export function endpointOf<Name extends keyof ServiceEndpoints>(name: Name): ServiceEndpoints[Name] {
  const endpoint = services()[name];
  if (endpoint === undefined) throw new Error(`"${name}" is not listed in this package's test/services.json`);
  return endpoint;
}

/** Binary-protocol and admin (web service) URLs of the project's Pulsar broker. */
export function pulsarEndpoints(): { serviceUrl: string; adminUrl: string } {
  const pulsar = endpointOf("pulsar");
  return { serviceUrl: pulsar.serviceUrl, adminUrl: pulsar.webServiceUrl };
}

/**
 * A name nobody else uses on the shared servers: letters, digits and dashes, valid for topics, queues, streams,
 * subjects and keys.
 */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6)}`;
}
