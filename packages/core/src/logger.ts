/** Structured fields attached to a log line. */
export type LogFields = Record<string, unknown>;

/** Minimal structured logger (pino-compatible call shape). Connectors get one from their context. */
export interface Logger {
  /** Fine-grained diagnostics. */
  debug(fields: LogFields | string, message?: string): void;
  /** Normal operation. */
  info(fields: LogFields | string, message?: string): void;
  /** Something unexpected that the connector recovered from. */
  warn(fields: LogFields | string, message?: string): void;
  /** A failure. */
  error(fields: LogFields | string, message?: string): void;
  /** A logger that adds `bindings` to every line. */
  child(bindings: LogFields): Logger;
}

/** A logger that drops everything; the default where none is given. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};
