// One backoff for the whole project: the client's reconnects and the runtime's retries back off the same way.
export { Backoff, sleep } from "@pulsar-connect/pulsar-client";
