import "vitest";

declare module "vitest" {
  export interface ProvidedContext {
    services: { pulsar?: { serviceUrl: string; webServiceUrl: string } };
  }
}
