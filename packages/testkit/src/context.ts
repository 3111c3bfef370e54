import type {
  LogFields,
  Logger,
  ProcessingGuarantee,
  PulsarPosition,
  SinkContext,
  SinkRecord,
  SourceContext,
  StateStore,
  SubscriptionType,
} from "@pulsar-connect/core";

/** One line captured by {@link MemoryLogger}. */
export interface CapturedLog {
  level: "debug" | "info" | "warn" | "error";
  fields: LogFields;
  message: string;
}

/** A logger that keeps every line, so tests can assert on logs (for example that no secret is logged). */
export class MemoryLogger implements Logger {
  readonly lines: CapturedLog[];
  private readonly bindings: LogFields;

  constructor(lines: CapturedLog[] = [], bindings: LogFields = {}) {
    this.lines = lines;
    this.bindings = bindings;
  }

  private push(level: CapturedLog["level"], fields: LogFields | string, message?: string): void {
    if (typeof fields === "string") this.lines.push({ level, fields: { ...this.bindings }, message: fields });
    else this.lines.push({ level, fields: { ...this.bindings, ...fields }, message: message ?? "" });
  }
  debug(fields: LogFields | string, message?: string): void {
    this.push("debug", fields, message);
  }
  info(fields: LogFields | string, message?: string): void {
    this.push("info", fields, message);
  }
  warn(fields: LogFields | string, message?: string): void {
    this.push("warn", fields, message);
  }
  error(fields: LogFields | string, message?: string): void {
    this.push("error", fields, message);
  }
  child(bindings: LogFields): Logger {
    return new MemoryLogger(this.lines, { ...this.bindings, ...bindings });
  }
  /** Every captured line as JSON text, for grepping. */
  text(): string {
    return this.lines.map((line) => JSON.stringify(line)).join("\n");
  }
}

/** An in-memory {@link StateStore}. */
export class MemoryStateStore implements StateStore {
  readonly values: Map<string, Uint8Array> = new Map();
  readonly counters: Map<string, bigint> = new Map();
  async get(key: string): Promise<Uint8Array | undefined> {
    return this.values.get(key);
  }
  async put(key: string, value: Uint8Array): Promise<void> {
    this.values.set(key, value);
  }
  async delete(key: string): Promise<void> {
    this.values.delete(key);
    this.counters.delete(key);
  }
  async incrCounter(key: string, by: bigint | number): Promise<bigint> {
    const next = (this.counters.get(key) ?? 0n) + BigInt(by);
    this.counters.set(key, next);
    return next;
  }
  async getCounter(key: string): Promise<bigint> {
    return this.counters.get(key) ?? 0n;
  }
}

/** Options of the test contexts. */
export interface TestContextOptions {
  name?: string;
  tenant?: string;
  namespace?: string;
  instanceId?: number;
  numInstances?: number;
  secrets?: Record<string, string>;
  logger?: MemoryLogger;
  /** The processing guarantee the context reports, as the runtime does. */
  processingGuarantee?: ProcessingGuarantee;
}

/** A test context plus what it observed. */
export interface TestContextHandle<C> {
  context: C;
  logger: MemoryLogger;
  state: MemoryStateStore;
  metrics: Array<{ name: string; value: number }>;
  fatalErrors: unknown[];
  abort: AbortController;
}

function base(options: TestContextOptions) {
  const logger = options.logger ?? new MemoryLogger();
  const state = new MemoryStateStore();
  const metrics: Array<{ name: string; value: number }> = [];
  const fatalErrors: unknown[] = [];
  const abort = new AbortController();
  const context = {
    tenant: options.tenant ?? "public",
    namespace: options.namespace ?? "default",
    name: options.name ?? "test-connector",
    instanceId: options.instanceId ?? 0,
    numInstances: options.numInstances ?? 1,
    ...(options.processingGuarantee ? { processingGuarantee: options.processingGuarantee } : {}),
    logger: logger.child({ connector: options.name ?? "test-connector" }),
    signal: abort.signal,
    state,
    getSecret: (secretName: string) => options.secrets?.[secretName],
    recordMetric: (name: string, value: number) => {
      metrics.push({ name, value });
    },
    fatal: (error: unknown) => {
      fatalErrors.push(error);
    },
  };
  return { context, logger, state, metrics, fatalErrors, abort };
}

/** A sink context for calling a sink directly in tests, without a broker. */
export function createSinkContext(
  options: TestContextOptions & { inputTopics?: string[]; subscriptionType?: SubscriptionType } = {},
): TestContextHandle<SinkContext> & { seeks: Array<{ topic: string; position: PulsarPosition }> } {
  const handle = base(options);
  const seeks: Array<{ topic: string; position: PulsarPosition }> = [];
  const context: SinkContext = {
    ...handle.context,
    inputTopics: options.inputTopics ?? ["persistent://public/default/test-input"],
    subscriptionType: options.subscriptionType ?? "Shared",
    async seek(topic, position) {
      seeks.push({ topic, position });
    },
    pause() {},
    resume() {},
  };
  return { ...handle, context, seeks };
}

/** A source context for calling a source directly in tests, without a broker. */
export function createSourceContext(
  options: TestContextOptions & { outputTopic?: string } = {},
): TestContextHandle<SourceContext> {
  const handle = base(options);
  const context: SourceContext = {
    ...handle.context,
    outputTopic: options.outputTopic ?? "persistent://public/default/test-output",
  };
  return { ...handle, context };
}

/** Options of {@link makeSinkRecords}. */
export interface SinkRecordInit<T> {
  value: T;
  key?: string;
  properties?: Record<string, string>;
  topicName?: string;
  eventTime?: number;
}

/**
 * Builds sink records as the runtime would hand them to `write`, with increasing positions starting at
 * `firstEntryId` in ledger `ledgerId`.
 */
export function makeSinkRecords<T>(
  inits: Array<SinkRecordInit<T>>,
  options: { ledgerId?: bigint; firstEntryId?: bigint; schemaType?: "JSON" | "STRING" | "BYTES" } = {},
): Array<SinkRecord<T>> {
  const ledgerId = options.ledgerId ?? 1n;
  const first = options.firstEntryId ?? 0n;
  return inits.map((init, index) => {
    const topicName = init.topicName ?? "persistent://public/default/test-input";
    const entryId = first + BigInt(index);
    const data =
      typeof init.value === "string"
        ? new TextEncoder().encode(init.value)
        : init.value instanceof Uint8Array
          ? init.value
          : new TextEncoder().encode(JSON.stringify(init.value));
    const record: SinkRecord<T> = {
      value: init.value,
      data,
      properties: init.properties ?? {},
      publishTime: Date.now(),
      topicName,
      position: { topic: topicName, ledgerId, entryId, batchIndex: -1 },
      messageId: `${ledgerId}:${entryId}:-1:-1`,
      redeliveryCount: 0,
      schema: { type: options.schemaType ?? (typeof init.value === "string" ? "STRING" : "JSON") },
    };
    if (init.key !== undefined) record.key = init.key;
    if (init.eventTime !== undefined) record.eventTime = init.eventTime;
    return record;
  });
}
