export {
  describeSinkConformance,
  describeSourceConformance,
  type SinkConformanceOptions,
  type SourceConformanceOptions,
} from "./conformance.ts";
export {
  type CapturedLog,
  createSinkContext,
  createSourceContext,
  MemoryLogger,
  MemoryStateStore,
  makeSinkRecords,
  type SinkRecordInit,
  type TestContextHandle,
  type TestContextOptions,
} from "./context.ts";
export {
  crashSeed,
  createDedupNamespace,
  exited,
  killPoint,
  type SourceProcessSettings,
  startSourceProcess,
  storedCount,
  storedIds,
} from "./crash.ts";
export { describeSourceKill, type SourceKillOptions } from "./source-kill.ts";
