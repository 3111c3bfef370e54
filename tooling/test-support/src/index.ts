export { endpointOf, pulsarEndpoints, services, uniqueName } from "./endpoints.ts";
export { createTestNamespace, idsIn, testAdmin } from "./pulsar.ts";
