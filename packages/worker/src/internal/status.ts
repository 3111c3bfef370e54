import type { ExceptionInformation, SinkInstanceStatusData, SourceInstanceStatusData } from "@pulsar-connect/runtime";

/** One instance's status in the shape of upstream's `SinkStatus`/`SourceStatus` instance data. */
export type InstanceStatus = SinkInstanceStatusData | SourceInstanceStatusData;

/** What the worker knows of an instance, independent of its kind; {@link upstreamInstanceStatus} names the fields. */
export interface InstanceFacts {
  running: boolean;
  error: string;
  numRestarts: number;
  /** Records read from Pulsar (sink) or from the source. */
  received: number;
  /** Records written to the sink or to Pulsar (source). */
  written: number;
  connectorExceptions: number;
  systemExceptions: number;
  /** Sink records sent to the dead-letter topic. */
  deadLettered: number;
  /** Source records given up under ATMOST_ONCE because their send failed. */
  dropped: number;
  latestConnectorExceptions: ExceptionInformation[];
  latestSystemExceptions: ExceptionInformation[];
  lastReceivedTime: number;
  workerId: string;
  stalled: boolean;
  state: string;
}

/** The upstream field names of an instance's facts: sinks and sources count the same things under other names. */
export function upstreamInstanceStatus(kind: "sink" | "source", facts: InstanceFacts): InstanceStatus {
  const common = {
    running: facts.running,
    error: facts.error,
    numRestarts: facts.numRestarts,
    numSystemExceptions: facts.systemExceptions,
    latestSystemExceptions: facts.latestSystemExceptions,
    lastReceivedTime: facts.lastReceivedTime,
    workerId: facts.workerId,
    stalled: facts.stalled,
    state: facts.state,
  };
  if (kind === "sink") {
    return {
      ...common,
      numReadFromPulsar: facts.received,
      numSinkExceptions: facts.connectorExceptions,
      latestSinkExceptions: facts.latestConnectorExceptions,
      numWrittenToSink: facts.written,
      numDeadLettered: facts.deadLettered,
    };
  }
  return {
    ...common,
    numReceivedFromSource: facts.received,
    numSourceExceptions: facts.connectorExceptions,
    latestSourceExceptions: facts.latestConnectorExceptions,
    numWritten: facts.written,
    numDropped: facts.dropped,
  };
}

/** Upstream's connector status: the instance count, how many run, and each instance's status. */
export interface ConnectorStatus {
  numInstances: number;
  numRunning: number;
  instances: { instanceId: number; status: InstanceStatus }[];
}

export function upstreamConnectorStatus(instances: { instanceId: number; status: InstanceStatus }[]): ConnectorStatus {
  return {
    numInstances: instances.length,
    numRunning: instances.filter((entry) => entry.status.running).length,
    instances,
  };
}
