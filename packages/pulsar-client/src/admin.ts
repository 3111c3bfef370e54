import type { Authentication } from "./auth.ts";
import { PulsarClientError } from "./errors.ts";
import { parseTopicName, type TopicName } from "./internal/topic-name.ts";

export interface PulsarAdminOptions {
  /** http(s)://host:port of the broker's web service. */
  serviceUrl: string;
  authToken?: string | (() => Promise<string>);
  /** Sends the bearer token of a token or OAuth2 authentication (TLS client certificates need an https agent). */
  authentication?: Authentication;
  /** Per-request timeout. Default 30000. */
  timeoutMs?: number;
}

/** Small typed wrapper over Pulsar's admin REST API (v2), built on the platform fetch. */
const COMPACTION_STATES = ["NOT_RUN", "RUNNING", "SUCCESS", "ERROR"] as const;
/** Upstream's `LongRunningProcessStatus` of a topic's compaction. */
export type CompactionState = (typeof COMPACTION_STATES)[number];

export class PulsarAdmin {
  private readonly base: string;
  private readonly options: PulsarAdminOptions;

  constructor(options: PulsarAdminOptions) {
    let url: URL;
    try {
      url = new URL(options?.serviceUrl);
    } catch (err) {
      throw new PulsarClientError("INVALID_URL", `invalid admin URL "${options?.serviceUrl}"`, { cause: err });
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new PulsarClientError("INVALID_URL", `admin URL must be http(s): "${options.serviceUrl}"`);
    }
    this.base = url.origin + url.pathname.replace(/\/$/, "");
    this.options = options;
  }

  private async request(method: string, path: string, body?: unknown, okStatuses: number[] = []): Promise<unknown> {
    const headers: Record<string, string> = { accept: "application/json" };
    const token = this.options.authToken;
    if (token) headers.authorization = `Bearer ${typeof token === "string" ? token : await token()}`;
    const bearer = this.options.authentication?.bearerToken;
    if (!token && bearer) headers.authorization = `Bearer ${await bearer()}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
      });
    } catch (err) {
      throw new PulsarClientError("CONNECTION_FAILED", `${method} ${path} failed: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const text = await res.text();
    if (!res.ok && !okStatuses.includes(res.status)) {
      let reason = text;
      try {
        reason = (JSON.parse(text) as { reason?: string }).reason ?? text;
      } catch {
        // not JSON
      }
      throw new PulsarClientError("ADMIN", `${method} ${path} -> HTTP ${res.status}: ${reason}`, {
        httpStatus: res.status,
        retryable: res.status >= 500,
      });
    }
    if (text === "") return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }

  private topicPath(topic: string): string {
    const t: TopicName = parseTopicName(topic);
    return `/admin/v2/${t.domain}/${encodeURIComponent(t.tenant)}/${encodeURIComponent(t.namespace)}/${encodeURIComponent(t.local)}`;
  }

  private static ns(namespace: string): string {
    if (!/^[-=:.\w]+\/[-=:.\w]+$/.test(namespace)) {
      throw new PulsarClientError("INVALID_CONFIG", `invalid namespace "${namespace}": expected tenant/namespace`);
    }
    return namespace;
  }

  async getTenants(): Promise<string[]> {
    return (await this.request("GET", "/admin/v2/tenants")) as string[];
  }

  async getNamespaces(tenant: string): Promise<string[]> {
    return (await this.request("GET", `/admin/v2/namespaces/${encodeURIComponent(tenant)}`)) as string[];
  }

  /** Creates a namespace; with `ifNotExists` an existing one is not an error. */
  async createNamespace(namespace: string, options: { ifNotExists?: boolean } = {}): Promise<void> {
    await this.request(
      "PUT",
      `/admin/v2/namespaces/${PulsarAdmin.ns(namespace)}`,
      undefined,
      options.ifNotExists ? [409] : [],
    );
  }

  async deleteNamespace(namespace: string, options: { force?: boolean } = {}): Promise<void> {
    await this.request("DELETE", `/admin/v2/namespaces/${PulsarAdmin.ns(namespace)}?force=${options.force ?? false}`);
  }

  async setDeduplication(namespace: string, enabled: boolean): Promise<void> {
    await this.request("POST", `/admin/v2/namespaces/${PulsarAdmin.ns(namespace)}/deduplication`, enabled);
  }

  /** Effective deduplication of a namespace: its own policy, else the broker's `brokerDeduplicationEnabled`. */
  async getDeduplication(namespace: string): Promise<boolean> {
    const own = await this.request("GET", `/admin/v2/namespaces/${PulsarAdmin.ns(namespace)}/deduplication`);
    if (typeof own === "boolean") return own;
    if (own === "true" || own === "false") return own === "true";
    const conf = (await this.request("GET", "/admin/v2/brokers/configuration/runtime")) as Record<string, string>;
    return conf.brokerDeduplicationEnabled === "true";
  }

  async getTopics(namespace: string): Promise<string[]> {
    return (await this.request("GET", `/admin/v2/namespaces/${PulsarAdmin.ns(namespace)}/topics`)) as string[];
  }

  async getPartitionedTopics(namespace: string): Promise<string[]> {
    return (await this.request("GET", `/admin/v2/persistent/${PulsarAdmin.ns(namespace)}/partitioned`)) as string[];
  }

  async createPartitionedTopic(topic: string, partitions: number): Promise<void> {
    await this.request("PUT", `${this.topicPath(topic)}/partitions`, partitions);
  }

  /** Raises the partition count of a partitioned topic (partitions can only be added). */
  async updatePartitionedTopic(topic: string, partitions: number): Promise<void> {
    await this.request("POST", `${this.topicPath(topic)}/partitions`, partitions);
  }

  async createTopic(topic: string): Promise<void> {
    await this.request("PUT", this.topicPath(topic));
  }

  async getPartitionedTopicMetadata(topic: string): Promise<{ partitions: number }> {
    return (await this.request("GET", `${this.topicPath(topic)}/partitions`)) as { partitions: number };
  }

  /** Stats of a topic; for a partitioned topic the aggregated partitioned stats. */
  async getTopicStats(topic: string): Promise<Record<string, unknown>> {
    const { partitions } = await this.getPartitionedTopicMetadata(topic);
    const suffix = partitions > 0 ? "partitioned-stats" : "stats";
    return (await this.request("GET", `${this.topicPath(topic)}/${suffix}`)) as Record<string, unknown>;
  }

  async getSubscriptions(topic: string): Promise<string[]> {
    return (await this.request("GET", `${this.topicPath(topic)}/subscriptions`)) as string[];
  }

  async deleteSubscription(topic: string, subscription: string, options: { force?: boolean } = {}): Promise<void> {
    await this.request(
      "DELETE",
      `${this.topicPath(topic)}/subscription/${encodeURIComponent(subscription)}?force=${options.force ?? false}`,
    );
  }

  /** Deletes a topic (all partitions of a partitioned topic). */
  async deleteTopic(topic: string, options: { force?: boolean } = {}): Promise<void> {
    const { partitions } = await this.getPartitionedTopicMetadata(topic);
    const path = partitions > 0 ? `${this.topicPath(topic)}/partitions` : this.topicPath(topic);
    await this.request("DELETE", `${path}?force=${options.force ?? false}`);
  }

  /** Sets the backlog size (bytes) at which the broker compacts a topic on its own. */
  async setCompactionThreshold(topic: string, bytes: number): Promise<void> {
    await this.request("POST", `${this.topicPath(topic)}/compactionThreshold`, bytes);
  }

  /** Starts compaction of a topic now (the broker compacts one topic at a time: 409 while one runs). */
  async triggerCompaction(topic: string): Promise<void> {
    await this.request("PUT", `${this.topicPath(topic)}/compaction`);
  }

  /** State of the last compaction the broker ran on a topic, with the error when it failed. */
  async compactionStatus(topic: string): Promise<{ status: CompactionState; lastError?: string }> {
    const answer = (await this.request("GET", `${this.topicPath(topic)}/compaction`)) as {
      status?: string;
      lastError?: string;
    };
    const status = (COMPACTION_STATES as readonly string[]).includes(answer?.status ?? "")
      ? (answer.status as CompactionState)
      : "ERROR";
    return answer?.lastError ? { status, lastError: answer.lastError } : { status };
  }

  /** Id of the last message of a topic, or undefined when the topic does not exist. */
  async getLastMessageId(topic: string): Promise<{ ledgerId: number; entryId: number } | undefined> {
    try {
      return (await this.request("GET", `${this.topicPath(topic)}/lastMessageId`)) as {
        ledgerId: number;
        entryId: number;
      };
    } catch (err) {
      if (err instanceof PulsarClientError && err.httpStatus === 404) return undefined;
      throw err;
    }
  }

  /**
   * Deduplication that applies to a topic: its topic policy, else its namespace policy, else the broker's
   * `brokerDeduplicationEnabled` (brokers without topic policies answer with the namespace and broker settings).
   */
  async getTopicDeduplication(topic: string): Promise<boolean> {
    try {
      const applied = await this.request("GET", `${this.topicPath(topic)}/deduplicationEnabled?applied=true`);
      if (typeof applied === "boolean") return applied;
    } catch {
      // Older brokers or no topic policies: fall back to the namespace and broker settings.
    }
    const t = parseTopicName(topic);
    return this.getDeduplication(`${t.tenant}/${t.namespace}`);
  }

  /** Unloads a topic from its broker; clients reconnect (used to move or reset topic ownership). */
  async unloadTopic(topic: string): Promise<void> {
    await this.request("PUT", `${this.topicPath(topic)}/unload`);
  }

  async getSchema(topic: string): Promise<Record<string, unknown> | undefined> {
    const t = parseTopicName(topic);
    try {
      return (await this.request(
        "GET",
        `/admin/v2/schemas/${t.tenant}/${t.namespace}/${encodeURIComponent(t.local)}/schema`,
      )) as Record<string, unknown>;
    } catch (err) {
      if (err instanceof PulsarClientError && err.httpStatus === 404) return undefined;
      throw err;
    }
  }
}
