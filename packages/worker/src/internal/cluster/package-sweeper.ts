import type { Logger } from "@pulsar-connect/core/host";
import type { PackageTopic } from "./package-topic.ts";

/** Settings of a {@link PackageSweeper}. */
export interface PackageSweeperSettings {
  packages: PackageTopic;
  /** Integrities that stored connectors name or that a write holds; undefined while the worker is not ready. */
  inUse: () => ReadonlySet<string> | undefined;
  isLeader: () => boolean;
  logger: Logger;
  /** How old an unused package must be before it goes (10 min): an upload in progress is younger. */
  graceMs?: number;
  /** How often the leader looks (10 min). */
  intervalMs?: number;
}

const DEFAULT_GRACE_MS = 10 * 60_000;

/**
 * On the leader, at leadership start and then periodically: removes the packages of the cluster's package topic that
 * no stored connector names (a worker killed during an upload, a request refused after its package was kept).
 * Each look reads the whole topic once.
 */
export class PackageSweeper {
  private readonly settings: PackageSweeperSettings;
  private timer: NodeJS.Timeout | undefined;
  private sweeping = false;

  constructor(settings: PackageSweeperSettings) {
    this.settings = settings;
  }

  /** Once the worker is ready: looks now (a worker that took the leadership while starting did not yet), then periodically. */
  start(): void {
    this.timer = setInterval(() => void this.sweep(), this.settings.intervalMs ?? DEFAULT_GRACE_MS);
    this.timer.unref();
    void this.sweep();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Looks once, when this worker leads. */
  async sweep(): Promise<void> {
    if (this.sweeping || !this.settings.isLeader()) return;
    const inUse = this.settings.inUse();
    if (!inUse) return;
    this.sweeping = true;
    try {
      const removed = await this.settings.packages.removeUnused(inUse, this.settings.graceMs ?? DEFAULT_GRACE_MS);
      if (removed.length > 0) {
        this.settings.logger.info({ packages: removed }, "unused connector packages removed from the package topic");
      }
    } catch (error) {
      this.settings.logger.warn({ err: (error as Error).message }, "cannot remove unused connector packages");
    } finally {
      this.sweeping = false;
    }
  }
}
