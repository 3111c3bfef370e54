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
