import type { ConnectorError } from "./errors.ts";
import type { RecordFailure, SinkRecord, WriteOutcome } from "./records.ts";

/**
 * Writes a batch one record after another, for sinks whose system takes one record per request. A record that fails
 * with a non-retryable error is reported alone and the rest goes on; at the first retryable error the system is
 * struggling, so the remaining records are reported with it and wait for the runtime's retry instead of adding to
 * the load. When nothing was written the error is thrown, so the runtime treats the batch as one failed write.
 */
export async function writeEach(
  records: SinkRecord[],
  writeOne: (record: SinkRecord) => Promise<unknown>,
  toError: (error: unknown) => ConnectorError,
): Promise<WriteOutcome | undefined> {
  const failed: RecordFailure[] = [];
  for (const [index, record] of records.entries()) {
    try {
      await writeOne(record);
    } catch (error) {
      const wrapped = toError(error);
      failed.push({ index, error: wrapped });
      if (!wrapped.retryable) continue;
      for (let rest = index + 1; rest < records.length; rest++) failed.push({ index: rest, error: wrapped });
      break;
    }
  }
  if (failed.length === 0) return undefined;
  if (failed.length === records.length) throw failed[0]?.error;
  return { failed };
}
