import type { Logger } from "@pulsar-connect/core/host";
import {
  isPulsarClientError,
  type Message,
  MessageId,
  type Producer,
  type PulsarClient,
  type Reader,
} from "@pulsar-connect/pulsar-client";
import { WorkerError } from "../../errors.ts";
import {
  type ClusterView,
  type DrainStatus,
  type InstanceRef,
  type Scheduler,
  TOO_FEW_WORKERS,
  type WorkerInfo,
} from "../scheduler.ts";
import { assign, type Demand, type Placement } from "./assignment.ts";
import { currentDrains, type DrainRecords, drainStatusOf } from "./drain-records.ts";
import { type HeartbeatChannel, LoopHeartbeatChannel } from "./heartbeat-channel.ts";

/** The topics of one cluster, all in the namespace the worker config names. */
export interface ClusterTopics {
  /** Heartbeats, one key per worker (compacted). */
  members: string;
  /** The leader's placement, one key (compacted). */
  assignments: string;
  /** Connector configs and desired state (compacted), as {@link ClusterStore} writes them. */
  connectors: string;
}

/** The topic names of a cluster in a namespace (`tenant/namespace`). */
export function clusterTopics(namespace: string, cluster: string): ClusterTopics {
  const base = `persistent://${namespace}/pulsar-connect-${cluster}`;
  return { members: `${base}-members`, assignments: `${base}-assignments`, connectors: `${base}-connectors` };
}

/** What a worker says about itself every heartbeat. */
interface Heartbeat {
  workerId: string;
  workerHostname: string;
  port: number;
  /** Base URL of its admin API, where other workers send per-instance operations and forwarded writes. */
  url: string;
  /** Changes each time the worker fenced itself: a placement made for an older incarnation does not run. */
  incarnation: number;
  /** When its process started (its first incarnation): a drain holds for this process. */
  started: number;
  /** Set from the start of a graceful leave: it gets no instances, and drains those it has. */
  leaving: boolean;
  /** Instances that still hold resources on it (starting, running, restarting or stopping), kind-prefixed. */
  running: string[];
  /** Whether it holds the leadership: a leader that stepped down but lives on must not keep others from electing. */
  leading: boolean;
  /** Set for a while after it could not take the store's writer: the others elect one of them first. */
  yielding?: boolean;
  cpu?: number;
  ram?: number;
}

interface Member {
  heartbeat: Heartbeat;
  /** When this worker last heard from it (its own clock). */
  lastSeen: number;
}

/** The leader's message on the assignments topic. */
interface AssignmentsMessage {
  leader: string;
  /** The incarnation of each worker the placement was made for. */
  incarnations: Record<string, number>;
  placement: Placement;
  /** Workers drained on request (`functions-worker drain`): they get no instances until they restart. */
  drained?: DrainRecords;
}

/**
 * The connector store's one writer, which goes with the leadership (cluster mode: the `ClusterStore`'s
 * ExclusiveWithFencing producer).
 */
export interface LeaderWriter {
  /**
   * Takes the writer, fencing any other holder, and reads what was stored before; writes stay refused until
   * {@link open}. Runs before the leader places anything (instances of connectors it has not read would be left out).
   */
  take(): Promise<void>;
  /** Lets writes through: a placement sent after {@link take} was stored, so this worker still led after it. */
  open(): void;
  /** Whether the writer was lost since it was taken (another worker took it, the client closed it). */
  lost(): boolean;
  /** Lets the writer go; later writes fail. */
  drop(): Promise<void>;
}

/** Settings of a {@link ClusterScheduler}. */
export interface ClusterSchedulerSettings {
  client: Pick<PulsarClient, "createProducer" | "createReader">;
  topics: ClusterTopics;
  /** A worker whose heartbeat is older than this is gone (5 s). */
  leaseMs: number;
  /** How often a worker sends its heartbeat (1 s); below the lease. */
  heartbeatIntervalMs: number;
  logger: Logger;
  /** Every instance of every stored connector, kind-prefixed (`sink:tenant/ns/name:0`), with declared resources. */
  demands: () => Demand[];
  /** The kind-prefixed instances that hold resources on this worker now. */
  runningHere: () => string[];
  /**
   * Taken with the leadership (the leadership is not taken when that fails), taken again when it is lost while this
   * worker leads (it steps down when that fails), and let go with the leadership.
   */
  writer?: LeaderWriter;
  /** A monotonic clock in milliseconds for leases (`performance.now`; tests replace it). */
  now?: () => number;
  /**
   * Sends the heartbeats (from a thread of their own in the worker: `ThreadHeartbeatChannel`); on `client`
   * from this scheduler's event loop when not given. A channel of its own reads time with `performance.now`.
   */
  heartbeats?: HeartbeatChannel;
}

const RETRY_MS = 500;

/** A placement to send, with the requests it carries out. */
interface PlannedPlacement {
  next: AssignmentsMessage;
  rebalancing: boolean;
  drained: DrainRecords;
}

/** Whether a send failed because the producer was fenced (at once, or closed for good after its reconnect). */
function producerLost(error: unknown): boolean {
  return isPulsarClientError(error) && (error.code === "PRODUCER_FENCED" || error.code === "CLOSED");
}

function sortedEntries(record: Record<string, unknown>): [string, unknown][] {
  return Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function sameAssignments(a: AssignmentsMessage, b: AssignmentsMessage): boolean {
  return (
    a.leader === b.leader &&
    JSON.stringify(sortedEntries(a.incarnations)) === JSON.stringify(sortedEntries(b.incarnations)) &&
    JSON.stringify(sortedEntries(a.placement)) === JSON.stringify(sortedEntries(b.placement)) &&
    JSON.stringify(sortedEntries(a.drained ?? {})) === JSON.stringify(sortedEntries(b.drained ?? {}))
  );
}

/** `kind:tenant/namespace/name:id`: an instance's key in placements and heartbeats. */
export function instanceKey(instance: InstanceRef): string {
  return `${instance.kind}:${instance.tenant}/${instance.namespace}/${instance.name}:${instance.instanceId}`;
}

/**
 * Cluster membership, leadership and placement on Pulsar topics, with no consensus code of its own:
 *
 * - every worker sends a heartbeat each `heartbeatIntervalMs` to the members topic; a worker is a member while its
 *   latest heartbeat is younger than the lease, as seen by each reader on its own clock;
 * - the leader is the worker holding the ExclusiveWithFencing producer of the assignments topic. When the leader
 *   named by the latest placement is no longer a member, the member with the lowest id takes the producer, which
 *   fences the previous holder: its next write fails and it steps down;
 * - the leader places every instance (balanced by count and declared resources, sticky) and publishes the placement;
 * - a worker runs an instance only while its own lease is fresh (its latest heartbeat was stored less than
 *   `lease - heartbeatInterval` ago), the placement names it for its current incarnation, and no other member still
 *   reports the instance in its heartbeat. A worker that could not renew its lease (frozen, cut off) stops
 *   everything, takes a new incarnation and waits for a placement made for it.
 */
export class ClusterScheduler implements Scheduler, ClusterView {
  private readonly settings: ClusterSchedulerSettings;
  private readonly now: () => number;
  private readonly listeners = new Set<() => void>();
  private readonly members = new Map<string, Member>();
  /** When this worker last read back one of its own heartbeats: its view of the members is that recent. */
  private ownHeartbeatReadAt = Number.NEGATIVE_INFINITY;
  /** The incarnation this process started with: heartbeats from before it are a predecessor's. */
  private firstIncarnation = 0;
  /** This worker, as the others see it; set by {@link start}. */
  private self: WorkerInfo & { url: string } = { workerId: "", workerHostname: "", port: 0, url: "" };
  private membersReader: Reader | undefined;
  private assignmentsReader: Reader | undefined;
  private readonly heartbeats: HeartbeatChannel;
  /** Lapses of the own lease this worker fenced itself for. */
  private lapsesSeen = 0;
  private leaderProducer: Producer | undefined;
  private latest: AssignmentsMessage | undefined;
  /** Instances this worker may run now, kind-prefixed. */
  private allowed = new Set<string>();
  /** Where an instance ran before the latest placement moved it: instance -> previous owner. */
  private readonly movedFrom = new Map<string, string>();
  /** Instances taken over from a worker whose lease lapsed (it may be frozen, not dead), not yet started here. */
  private readonly takenFromLapsed = new Set<string>();
  private incarnation = 1;
  /** When the worker fenced itself last: it runs nothing until a placement made for its new incarnation. */
  private fenced = false;
  private leaving = false;
  private closed = false;
  private startedAt = 0;
  private timers: NodeJS.Timeout[] = [];
  private electing = false;
  /** Taking the store's writer back after it was lost while leading. */
  private retakingWriter = false;
  /**
   * Until when this worker leaves the leadership to the others: it could not take the store's writer, which another
   * worker may well do (own clock).
   */
  private yieldUntil = Number.NEGATIVE_INFINITY;
  /** When another worker fenced this one's leadership producer; cleared by the next placement read. */
  private deposedAt: number | undefined;
  private publishing = false;
  private assignmentsCaughtUp = false;
  /** When the latest placement arrived (own clock). */
  private latestAt = 0;
  /** Until the members topic is read to its end, who runs what elsewhere is not known: nothing starts here. */
  private membersCaughtUp = false;
  /** A rebalance asked for and not published yet. */
  private rebalanceRequested = false;
  /** Drains asked for and not published yet: workerId -> when its process started. */
  private readonly drainsRequested = new Map<string, number>();

  constructor(settings: ClusterSchedulerSettings) {
    this.settings = settings;
    // Leases are durations: a wall-clock step (NTP, a VM resumed) must not lengthen or shorten them.
    this.now = settings.now ?? (() => performance.now());
    this.heartbeats =
      settings.heartbeats ??
      new LoopHeartbeatChannel({
        client: settings.client,
        now: this.now,
        onError: (error) => this.heartbeatFailed(error),
      });
  }

  /** Joins: opens the topics, sends the first heartbeat, and starts following members and placements. */
  async start(self: WorkerInfo & { url: string }): Promise<void> {
    this.self = self;
    const { client, topics } = this.settings;
    this.startedAt = this.now();
    // Unique per process start (wall clock, as the monotonic clock restarts with the process): a restarted worker
    // with the same id runs nothing placed for its predecessor until the leader placed instances for it.
    this.incarnation = Date.now();
    this.firstIncarnation = this.incarnation;
    await this.heartbeats.open(
      {
        topic: topics.members,
        producerName: `pulsar-connect-member-${self.workerId}-${this.incarnation}`,
        key: self.workerId,
      },
      {
        leaseMs: this.settings.leaseMs,
        heartbeatIntervalMs: this.settings.heartbeatIntervalMs,
        ownLeaseMs: this.ownLeaseMs(),
      },
    );
    this.membersReader = await client.createReader({
      topic: topics.members,
      startMessageId: MessageId.earliest,
      readCompacted: true,
    });
    this.assignmentsReader = await client.createReader({
      topic: topics.assignments,
      startMessageId: MessageId.earliest,
      readCompacted: true,
    });
    await this.heartbeat();
    void this.follow(this.membersReader, (message, catchingUp) => this.onMember(message, catchingUp));
    void this.follow(this.assignmentsReader, (message) => this.onAssignments(message));
    this.timers.push(setInterval(() => this.tick(), Math.min(250, this.settings.heartbeatIntervalMs)));
  }

  // -------------------------------------------------------------------------------------------------------------
  // Scheduler

  runsHere(instance: InstanceRef): boolean {
    return this.ownLeaseFresh() && this.allowed.has(instanceKey(instance));
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // -------------------------------------------------------------------------------------------------------------
  // ClusterView

  workers(): WorkerInfo[] {
    return this.liveMembers()
      .map(({ heartbeat }) => ({
        workerId: heartbeat.workerId,
        workerHostname: heartbeat.workerHostname,
        port: heartbeat.port,
      }))
      .sort((a, b) => (a.workerId < b.workerId ? -1 : 1));
  }

  leader(): WorkerInfo | undefined {
    const id = this.latest?.leader;
    const member = id === undefined ? undefined : this.members.get(id);
    if (!member || !this.isLive(member)) return undefined;
    const { workerId, workerHostname, port } = member.heartbeat;
    return { workerId, workerHostname, port };
  }

  assignments(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const [key, owner] of Object.entries(this.latest?.placement ?? {})) {
      const list = out[owner] ?? [];
      list.push(key.slice(key.indexOf(":") + 1));
      out[owner] = list;
    }
    for (const list of Object.values(out)) list.sort();
    return out;
  }

  /** Whether this worker holds the leadership now. */
  isLeader(): boolean {
    return this.leaderProducer !== undefined;
  }

  /** The admin API URL of the worker that runs an instance, when the placement names a live one. */
  ownerUrl(instance: InstanceRef): { workerId: string; url: string } | undefined {
    const owner = this.latest?.placement[instanceKey(instance)];
    const member = owner === undefined ? undefined : this.members.get(owner);
    if (!member || !this.isLive(member)) return undefined;
    return { workerId: owner as string, url: member.heartbeat.url };
  }

  /** The admin API URL of the leader, when one is known and live. */
  leaderUrl(): string | undefined {
    const id = this.latest?.leader;
    const member = id === undefined ? undefined : this.members.get(id);
    return member && this.isLive(member) ? member.heartbeat.url : undefined;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Leaving

  /**
   * Announces a graceful leave: the leader places nothing here any more, and the leadership (if held) is handed
   * over. The caller then stops its instances and calls {@link close}.
   */
  async announceLeaving(): Promise<void> {
    this.leaving = true;
    await this.stepDown("leaving the cluster");
    await this.heartbeat();
  }

  /**
   * Sends a last heartbeat (nothing running, leaving), removes its member entry (the members topic and every view
   * of it would otherwise keep one entry per worker id ever started) and closes every handle.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.leaving = true;
    await this.heartbeat().catch(() => undefined);
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    await this.stepDown("closing");
    await Promise.all([
      this.heartbeats.close([""]),
      ...[this.membersReader, this.assignmentsReader].map((handle) => handle?.close().catch(() => undefined)),
    ]);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Internals

  private ownLeaseFresh(): boolean {
    const leaseStart = this.leaseStart();
    return !this.fenced && leaseStart > 0 && this.now() - leaseStart < this.ownLeaseMs();
  }

  /**
   * Start of the latest heartbeat the broker stored; 0 before the first one. A renewal that came longer than the own
   * lease after the previous one means this worker was frozen or cut off: the others may have moved its instances,
   * so what it runs now is stopped before the renewed lease counts.
   */
  private leaseStart(): number {
    const lapses = this.heartbeats.lapses();
    if (lapses !== this.lapsesSeen) {
      this.lapsesSeen = lapses;
      if (!this.fenced) this.fence();
    }
    return this.heartbeats.renewedAt();
  }

  /** A worker trusts its own lease for less time than the others give it: it stops before they take over. */
  private ownLeaseMs(): number {
    return this.settings.leaseMs - this.settings.heartbeatIntervalMs;
  }

  /** Whether instances here must stop without draining: this worker's own lease lapsed, others may run them. */
  mustStopAtOnce(): boolean {
    return this.fenced || !this.ownLeaseFresh0();
  }

  /**
   * Whether this worker read one of its own heartbeats back within its own lease. Liveness counts only the heartbeats
   * this worker has read: with a stalled reader every other member looks gone, so nothing is decided on such a view.
   */
  private viewFresh(): boolean {
    return this.now() - this.ownHeartbeatReadAt < this.ownLeaseMs();
  }

  private isLive(member: Member): boolean {
    return this.now() - member.lastSeen < this.settings.leaseMs;
  }

  private liveMembers(): Member[] {
    return [...this.members.values()].filter((member) => this.isLive(member));
  }

  /** Sends the current heartbeat at once; resolves once stored (or failed, which is logged). */
  private async heartbeat(): Promise<void> {
    if (this.closed) return;
    try {
      await this.heartbeats.sendNow(this.currentHeartbeat());
    } catch (error) {
      this.heartbeatFailed(error as Error);
    }
  }

  private heartbeatFailed(error: Error): void {
    if (!this.closed) this.settings.logger.warn({ err: error.message }, "cluster heartbeat failed");
  }

  /** What this worker says about itself now. */
  private currentHeartbeat(): string {
    const self = this.self;
    const heartbeat: Heartbeat = {
      workerId: self.workerId,
      workerHostname: self.workerHostname,
      port: self.port,
      url: self.url,
      incarnation: this.incarnation,
      started: this.firstIncarnation,
      leaving: this.leaving,
      running: this.settings.runningHere().sort(),
      leading: this.leaderProducer !== undefined,
    };
    if (this.yielding()) heartbeat.yielding = true;
    return JSON.stringify(heartbeat);
  }

  /** Stops everything here until the leader places instances for a new incarnation. */
  private fence(): void {
    this.fenced = true;
    this.incarnation += 1;
    this.settings.logger.warn(
      { incarnation: this.incarnation },
      "cluster lease lapsed: stopping every instance here until the leader places them again",
    );
    void this.stepDown("lease lapsed");
    this.recompute();
  }

  private async follow(reader: Reader, handle: (message: Message, catchingUp: boolean) => void): Promise<void> {
    let catchingUp = true;
    while (!this.closed) {
      try {
        if (catchingUp && !(await reader.hasMessageAvailable())) {
          catchingUp = false;
          if (reader === this.assignmentsReader) this.assignmentsCaughtUp = true;
          else this.membersCaughtUp = true;
          this.recompute();
          continue;
        }
        const message = await reader.readNext(1_000);
        handle(message, catchingUp);
      } catch (error) {
        if (this.closed) return;
        if (isPulsarClientError(error) && error.code === "TIMEOUT") continue;
        this.settings.logger.warn({ err: (error as Error).message }, "cluster topic read failed; retrying");
        await new Promise((done) => setTimeout(done, RETRY_MS));
      }
    }
  }

  private onMember(message: Message, catchingUp: boolean): void {
    if (message.key === undefined) return;
    if (message.data.length === 0) {
      this.members.delete(message.key);
    } else {
      try {
        const heartbeat = JSON.parse(message.data.toString("utf8")) as Heartbeat;
        // Old heartbeats read at start count from when they were sent, not from now. publishTime is the sender's
        // wall clock, so clock skew between workers shifts how long a gone member's old heartbeat counts at start
        // (a live member's next heartbeat replaces it anyway).
        const age = catchingUp ? Math.max(0, Date.now() - message.publishTime) : 0;
        this.members.set(message.key, { heartbeat, lastSeen: this.now() - age });
        if (message.key === this.self.workerId && heartbeat.incarnation >= this.firstIncarnation) {
          this.ownHeartbeatReadAt = this.now();
        }
      } catch {
        return;
      }
    }
    this.recompute();
  }

  private onAssignments(message: Message): void {
    if (message.data.length === 0) return;
    const previous = this.latest;
    try {
      this.latest = JSON.parse(message.data.toString("utf8")) as AssignmentsMessage;
      this.latestAt = this.now();
    } catch {
      return;
    }
    this.noteMoves(previous, this.latest);
    this.deposedAt = undefined;
    const self = this.self.workerId;
    this.unfenceWhenPlaced();
    if (this.latest.leader !== self && this.leaderProducer) void this.stepDown("another worker leads");
    this.recompute();
  }

  /** Lifts the fence once the latest placement was made for this worker's current incarnation. */
  private unfenceWhenPlaced(): void {
    if (this.fenced && this.latest?.incarnations[this.self.workerId] === this.incarnation && this.ownLeaseFresh0()) {
      this.fenced = false;
      this.settings.logger.info({ incarnation: this.incarnation }, "placed again after the lease lapsed");
    }
  }

  /** Remembers the previous owner of each instance a new placement moves; forgets instances no longer placed. */
  private noteMoves(previous: AssignmentsMessage | undefined, next: AssignmentsMessage): void {
    for (const [key, owner] of Object.entries(previous?.placement ?? {})) {
      if (next.placement[key] !== owner) this.movedFrom.set(key, owner);
    }
    for (const key of this.movedFrom.keys()) if (!(key in next.placement)) this.movedFrom.delete(key);
  }

  /**
   * Whether this worker takes `instance` over from a worker whose lease lapsed: that worker may only be frozen, still
   * connected to the broker as the active consumer or the holder of the producer names. Answers true once per move.
   */
  takeTakeoverFromLapsed(instance: InstanceRef): boolean {
    return this.takenFromLapsed.delete(instanceKey(instance));
  }

  /**
   * Resolves once no live member (this one included) lists any of `instances` in its heartbeat; rejects after
   * `timeoutMs`. A member whose lease lapsed counts as holding nothing.
   */
  async stoppedEverywhere(instances: InstanceRef[], timeoutMs: number): Promise<void> {
    const keys = new Set(instances.map(instanceKey));
    const deadline = this.now() + timeoutMs;
    const self = this.self.workerId;
    for (;;) {
      const holders = this.liveMembers().filter(
        (member) => member.heartbeat.workerId !== self && member.heartbeat.running.some((key) => keys.has(key)),
      );
      if (holders.length === 0) return;
      if (this.now() > deadline) {
        throw new WorkerError(
          "INTERNAL",
          `Workers ${holders.map((member) => member.heartbeat.workerId).join(", ")} still run instances after ${timeoutMs} ms`,
        );
      }
      await new Promise((done) => setTimeout(done, this.settings.heartbeatIntervalMs / 2));
    }
  }

  /** Own lease freshness ignoring the fence (the fence is what is being lifted). */
  private ownLeaseFresh0(): boolean {
    const leaseStart = this.leaseStart();
    return leaseStart > 0 && this.now() - leaseStart < this.ownLeaseMs();
  }

  private tick(): void {
    if (this.closed) return;
    // The heartbeat channel renews the lease with the latest heartbeat only while this loop ticks.
    this.heartbeats.alive();
    this.heartbeats.update(this.currentHeartbeat());
    this.recompute();
    void this.elect();
    if (this.leaderProducer && !this.retakingWriter && this.settings.writer?.lost()) void this.retakeWriter();
    void this.publish();
  }

  /** Works out which instances may run here; tells the listeners when that changed. */
  private recompute(): void {
    const self = this.self.workerId;
    const next = new Set<string>();
    if (
      this.membersCaughtUp &&
      this.ownLeaseFresh() &&
      !this.leaving &&
      this.latest?.incarnations[self] === this.incarnation
    ) {
      const elsewhere = new Set<string>();
      for (const member of this.liveMembers()) {
        if (member.heartbeat.workerId === self) continue;
        for (const key of member.heartbeat.running) elsewhere.add(key);
      }
      // With an old view of the members (stalled reader), others look gone while they may run their instances:
      // what runs here keeps running, nothing new starts.
      const viewFresh = this.viewFresh();
      for (const [key, owner] of Object.entries(this.latest.placement)) {
        // An instance moving here starts once its previous owner says it stopped it (or its lease lapsed).
        if (owner === self && (this.allowed.has(key) || (viewFresh && !elsewhere.has(key)))) next.add(key);
      }
    }
    for (const key of next) {
      if (this.allowed.has(key)) continue;
      const from = this.movedFrom.get(key);
      this.movedFrom.delete(key);
      const previousOwner = from === undefined ? undefined : this.members.get(from);
      if (from !== undefined && from !== self && !(previousOwner && this.isLive(previousOwner))) {
        this.takenFromLapsed.add(key);
      }
    }
    for (const key of this.takenFromLapsed) if (!next.has(key)) this.takenFromLapsed.delete(key);
    const changed = next.size !== this.allowed.size || [...next].some((key) => !this.allowed.has(key));
    this.allowed = next;
    if (changed) for (const listener of this.listeners) listener();
  }

  /**
   * Takes the leadership when the current leader is gone and this worker is the lowest-id member, or when the latest
   * placement names this worker as leader but it gave the producer up (its own lease lapsed while the others still
   * counted it live: none of them would ever take over).
   */
  private async elect(): Promise<void> {
    if (
      this.electing ||
      this.retakingWriter ||
      this.leaderProducer ||
      this.leaving ||
      this.closed ||
      !this.ownLeaseFresh0() ||
      !this.viewFresh() ||
      !this.assignmentsCaughtUp ||
      !this.membersCaughtUp
    )
      return;
    // Heartbeats of every member arrive within a lease: before that, a starting worker's view is incomplete.
    if (this.now() - this.startedAt < this.settings.leaseMs) return;
    const self = this.self.workerId;
    const current = this.latest?.leader;
    const candidates = this.liveMembers().filter((member) => !member.heartbeat.leaving);
    const preferred = candidates.filter((member) => member.heartbeat.yielding !== true);
    // It failed to take the writer a moment ago: a worker that may succeed goes first.
    if (this.yielding() && preferred.some((member) => member.heartbeat.workerId !== self)) return;
    // Named leader but deposed by another worker whose placement is not read yet: that worker leads, unless it
    // published nothing for a whole lease (it may have died right after taking the producer).
    if (current === self && this.deposedAt !== undefined && this.now() - this.deposedAt < this.settings.leaseMs) {
      return;
    }
    if (current !== self) {
      const leaderMember = current === undefined ? undefined : this.members.get(current);
      // A recorded leader counts while it lives and says it leads (or took over less than a lease ago).
      const leading = leaderMember?.heartbeat.leading === true || this.now() - this.latestAt < this.settings.leaseMs;
      if (leaderMember && this.isLive(leaderMember) && !leaderMember.heartbeat.leaving && leading) return;
      const ids = (preferred.length > 0 ? preferred : candidates).map((member) => member.heartbeat.workerId).sort();
      if (ids[0] !== self) return;
    }
    this.electing = true;
    let producer: Producer | undefined;
    let writerTaken = false;
    try {
      producer = await this.settings.client.createProducer({
        topic: this.settings.topics.assignments,
        accessMode: "ExclusiveWithFencing",
        batchingEnabled: false,
        sendTimeoutMs: this.settings.leaseMs,
      });
      // Taken after the placement producer: a worker that takes the leadership later fences this one's writer too.
      writerTaken = true;
      await this.takeWriter();
      // Read what the previous leader stored before it was fenced: the new placement starts from it.
      await this.caughtUp();
      if (this.closed || this.leaving) throw new Error("the worker is leaving");
      // Two workers may elect at once, and the one that loses the placement producer may take the writer last: the
      // placement stored here shows which one leads, and the winner takes its writer back (retakeWriter).
      try {
        await this.confirmLeadership(producer);
      } catch (error) {
        if (producerLost(error)) this.deposedAt = this.now();
        throw error;
      }
      this.leaderProducer = producer;
      producer = undefined;
      this.settings.writer?.open();
      this.settings.logger.info({ previous: current ?? null }, "cluster leadership taken");
      // The others learn from the heartbeat that this worker leads.
      await this.heartbeat();
    } catch (error) {
      this.settings.logger.warn({ err: (error as Error).message }, "cannot take the cluster leadership");
      if (producer) {
        await producer.close().catch(() => undefined);
        if (writerTaken) await this.settings.writer?.drop().catch(() => undefined);
      }
    } finally {
      this.electing = false;
    }
  }

  /**
   * Takes the store's writer back after it was lost while leading (a worker that lost an election took it after this
   * one): checks first that this worker still leads (a new leader's writer is not fenced for nothing), takes the
   * writer with a new epoch, and confirms the leadership again before writes go through. Steps down when any of it
   * fails, so that another worker leads.
   */
  private async retakeWriter(): Promise<void> {
    const producer = this.leaderProducer;
    const writer = this.settings.writer;
    if (!producer || !writer) return;
    this.retakingWriter = true;
    this.settings.logger.warn("the connector store's writer was lost while leading: taking it again");
    try {
      await this.confirmLeadership(producer);
      await this.takeWriter();
      await this.confirmLeadership(producer);
      if (this.leaderProducer !== producer) throw new Error("the leadership was given up meanwhile");
      writer.open();
      this.settings.logger.info("the connector store's writer was taken again");
    } catch (error) {
      const reason = (error as Error).message;
      this.settings.logger.warn({ err: reason }, "cannot take the connector store's writer back");
      if (this.leaderProducer === producer) {
        if (producerLost(error)) this.deposedAt = this.now();
        await this.stepDown(`the connector store's writer is lost: ${reason}`);
      } else {
        // Given up meanwhile (stepDown let the writer go before this take ended): no election ran since.
        await writer.drop().catch(() => undefined);
      }
    } finally {
      this.retakingWriter = false;
    }
  }

  /** Takes the store's writer; when that fails, leaves the leadership to the others for a few leases. */
  private async takeWriter(): Promise<void> {
    try {
      await this.settings.writer?.take();
    } catch (error) {
      this.yieldUntil = this.now() + 3 * this.settings.leaseMs;
      throw error;
    }
  }

  /** Whether this worker leaves the leadership to the others now ({@link yieldUntil}). */
  private yielding(): boolean {
    return this.now() < this.yieldUntil;
  }

  /** Waits until the assignments reader has read everything stored before now. */
  private async caughtUp(): Promise<void> {
    const reader = this.assignmentsReader;
    const deadline = this.now() + this.settings.leaseMs * 2;
    while (reader && (await reader.hasMessageAvailable())) {
      if (this.now() > deadline) throw new Error("the assignments topic could not be read to its end");
      await new Promise((done) => setTimeout(done, 20));
    }
  }

  /** As leader: places the instances on the members and publishes the placement when it changed. */
  private async publish(force = false): Promise<void> {
    const producer = this.leaderProducer;
    if (!producer || this.publishing) return;
    // Its own fence does not stop a leader: the placement it publishes is what lifts the fence (new incarnation).
    if (!this.ownLeaseFresh0()) {
      await this.stepDown("own lease lapsed");
      return;
    }
    // With an old view of the members every other one looks gone: no placement from it.
    if (!this.viewFresh()) return;
    const planned = this.plannedPlacement();
    if (!planned) return;
    if (!force && !planned.rebalancing && this.latest && sameAssignments(this.latest, planned.next)) return;
    this.publishing = true;
    try {
      await this.sendPlacement(producer, planned);
    } catch (error) {
      this.settings.logger.warn({ err: (error as Error).message }, "cannot publish the cluster placement");
      if (producerLost(error) && this.leaderProducer === producer) {
        this.deposedAt = this.now();
        await this.stepDown("fenced by a new leader");
      }
    } finally {
      this.publishing = false;
    }
  }

  /** The placement of every instance on the members now; undefined when there is no worker to place them on. */
  private plannedPlacement(): PlannedPlacement | undefined {
    const self = this.self.workerId;
    const drained = this.drainsToPublish();
    const targets = this.liveMembers().filter(
      (member) => !member.heartbeat.leaving && drained[member.heartbeat.workerId] !== member.heartbeat.started,
    );
    const incarnations: Record<string, number> = {};
    for (const member of targets) incarnations[member.heartbeat.workerId] = member.heartbeat.incarnation;
    const demands = this.settings.demands();
    // No worker to place on (all leaving) while connectors exist: an empty placement would stop everything.
    if (targets.length === 0 && demands.length > 0) return undefined;
    const rebalancing = this.rebalanceRequested;
    const placement = assign(
      demands,
      targets.map((member) => member.heartbeat.workerId),
      rebalancing ? {} : (this.latest?.placement ?? {}),
    );
    const next: AssignmentsMessage = { leader: self, incarnations, placement };
    if (Object.keys(drained).length > 0) next.drained = drained;
    return { next, rebalancing, drained };
  }

  /** Sends a placement; once stored it is the latest, and the requests it carries are done. */
  private async sendPlacement(producer: Producer, { next, rebalancing, drained }: PlannedPlacement): Promise<void> {
    await producer.send({ key: "assignments", value: JSON.stringify(next) });
    if (rebalancing) this.rebalanceRequested = false;
    for (const workerId of Object.keys(drained)) this.drainsRequested.delete(workerId);
    this.noteMoves(this.latest, next);
    this.latest = next;
    this.unfenceWhenPlaced();
    this.recompute();
  }

  /**
   * Sends a placement on `producer` (a new one, or the latest one naming this worker leader when it must not place
   * now). Stored, it shows that no other worker took the placement producer before now, so no other worker led when
   * this one took the store's writer. Rejects when it is not stored.
   */
  private async confirmLeadership(producer: Producer): Promise<void> {
    while (this.publishing) await new Promise((done) => setTimeout(done, 20));
    this.publishing = true;
    try {
      const planned = (this.viewFresh() ? this.plannedPlacement() : undefined) ?? {
        next: { incarnations: {}, placement: {}, ...this.latest, leader: this.self.workerId },
        rebalancing: false,
        drained: {},
      };
      await this.sendPlacement(producer, planned);
    } finally {
      this.publishing = false;
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Rebalance and drain (leader only; the worker API sends them to the leader)

  /** Places every instance again from scratch (counts, then declared cpu and ram), ignoring where they run now. */
  async rebalance(): Promise<void> {
    this.requireLeader("rebalance");
    if (this.placeableMembers().length < 2) throw new WorkerError("BAD_REQUEST", TOO_FEW_WORKERS);
    this.rebalanceRequested = true;
    try {
      await this.publishRequested(() => !this.rebalanceRequested, "rebalance");
    } finally {
      // A rebalance that could not be published now is not done later by surprise.
      this.rebalanceRequested = false;
    }
    this.settings.logger.info({ placement: this.assignments() }, "cluster rebalanced on request");
  }

  /**
   * Moves every instance off `workerId`, which gets none until it restarts (a new process) or leaves, as upstream's
   * drain. Resolves once the placement without it is published; {@link drainStatus} tells when it stopped them all.
   */
  async drain(workerId: string): Promise<void> {
    this.requireLeader("drain");
    if (this.drainsRequested.size > 0) throw new WorkerError("CONFLICT", "Another drain is in progress");
    // In upstream's order: too few workers (drained ones not counted) before a prior drain.
    const available = this.placeableMembers();
    if (available.length < 2) throw new WorkerError("BAD_REQUEST", TOO_FEW_WORKERS);
    if (this.drainRecords()[workerId] !== undefined) {
      throw new WorkerError(
        "PRECONDITION_FAILED",
        `Worker ${workerId} was not yet removed after a prior drain op; try later`,
      );
    }
    const member = available.find((candidate) => candidate.heartbeat.workerId === workerId);
    if (!member) {
      throw new WorkerError("BAD_REQUEST", `Worker ${workerId} is not among the current workers in the system`);
    }
    this.drainsRequested.set(workerId, member.heartbeat.started);
    try {
      await this.publishRequested(() => !this.drainsRequested.has(workerId), "drain");
    } finally {
      this.drainsRequested.delete(workerId);
    }
    this.settings.logger.info({ workerId }, "cluster worker drained on request");
  }

  drainStatus(workerId: string): DrainStatus {
    const member = this.members.get(workerId);
    const live = member && this.isLive(member) ? member.heartbeat : undefined;
    const placedOn = Object.values(this.latest?.placement ?? {}).filter((owner) => owner === workerId).length;
    return drainStatusOf(workerId, this.drainRecords(), this.drainsRequested.has(workerId), live, placedOn);
  }

  /** Drain records of the latest placement that still hold: the drained process is still a member. */
  private drainRecords(): DrainRecords {
    return currentDrains(this.latest?.drained ?? {}, (workerId) => this.members.get(workerId)?.heartbeat);
  }

  /** What the next placement records as drained: the records that still hold and the drains asked for. */
  private drainsToPublish(): DrainRecords {
    return { ...this.drainRecords(), ...Object.fromEntries(this.drainsRequested) };
  }

  /** Live members that may be given instances: not leaving, not drained. */
  private placeableMembers(): Member[] {
    const drained = this.drainRecords();
    return this.liveMembers().filter(
      (member) => !member.heartbeat.leaving && drained[member.heartbeat.workerId] !== member.heartbeat.started,
    );
  }

  private requireLeader(what: string): void {
    if (!this.leaderProducer)
      throw new WorkerError("NOT_READY", `Cannot ${what}: this worker does not lead the cluster`);
  }

  /** Publishes a placement now and waits until `done` says the request went out with it. */
  private async publishRequested(done: () => boolean, what: string): Promise<void> {
    const deadline = this.now() + this.settings.leaseMs * 2;
    while (!done()) {
      if (!this.leaderProducer) throw new WorkerError("NOT_READY", `Cannot ${what}: the leadership was lost`);
      if (this.now() > deadline) throw new WorkerError("INTERNAL", `Cannot ${what}: the placement was not published`);
      if (this.publishing) await new Promise((resolve) => setTimeout(resolve, 20));
      else await this.publish(true);
    }
  }

  private async stepDown(why: string): Promise<void> {
    const producer = this.leaderProducer;
    if (!producer) return;
    this.leaderProducer = undefined;
    this.settings.logger.info({ why }, "cluster leadership given up");
    await Promise.all([producer.close().catch(() => undefined), this.settings.writer?.drop().catch(() => undefined)]);
  }
}
