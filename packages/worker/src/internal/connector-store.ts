import type { ResolvedSinkConfig, ResolvedSourceConfig } from "@pulsar-connect/runtime";

/** What the worker persists per connector: its config and the desired state of each instance. */
export type StoredConnector = (
  | { kind: "sink"; config: ResolvedSinkConfig; stoppedInstances: number[] }
  | { kind: "source"; config: ResolvedSourceConfig; stoppedInstances: number[] }
) & {
  /** The installed connector package it runs (uploaded or fetched), by the sha512 integrity of its tarball. */
  package?: { integrity: string };
};

/** A connector's identity in a store: its file name without `.json`, its message key in a Pulsar store. */
export function storeKey(kind: StoredConnector["kind"], tenant: string, namespace: string, name: string): string {
  return `${kind}~${encodeURIComponent(tenant)}~${encodeURIComponent(namespace)}~${encodeURIComponent(name)}`;
}

/**
 * Where connector configs and their desired state live: the one source of truth a worker restores from. A write
 * that resolves is durable; a write that throws changed nothing (the manager acts only after a successful write).
 */
export interface ConnectorStore {
  /** Opens the store; refuses when another worker holds it. */
  init(): Promise<void>;
  /** Gives the store up (the counterpart of `init`). */
  release(): Promise<void>;
  /** Every stored connector; entries that cannot be read are reported in `problems`, not thrown. */
  loadAll(): Promise<{ entries: StoredConnector[]; problems: string[] }>;
  /** Replaces a connector's entry. */
  save(entry: StoredConnector): Promise<void>;
  /** Removes a connector's entry; removing a missing one is not an error. */
  remove(kind: StoredConnector["kind"], tenant: string, namespace: string, name: string): Promise<void>;
}
