/** Closed set of error codes shared by connectors, the runtime and the worker. */
export type ConnectorErrorCode =
  | "INVALID_CONFIG"
  | "INVALID_MANIFEST"
  | "INVALID_RECORD"
  | "CONNECTION_FAILED"
  | "AUTH_FAILED"
  | "TIMEOUT"
  | "READ_FAILED"
  | "WRITE_FAILED"
  | "NOT_FOUND"
  | "CONFLICT"
  | "UNSUPPORTED"
  | "CLOSED"
  | "FATAL"
  | "INTERNAL";

/** One problem found in a config or manifest, located by its field path. */
export interface FieldIssue {
  /** Dotted path of the field, e.g. `"configs.jdbcUrl"`; empty for the whole object. */
  path: string;
  /** What is wrong, phrased for the person who wrote the config. */
  message: string;
}

/** Options of a {@link ConnectorError}. */
export interface ConnectorErrorOptions {
  /** Whether trying the same operation again may succeed (network blips, restarts). */
  retryable?: boolean;
  /** The underlying error. */
  cause?: unknown;
  /** Field-level problems, for INVALID_CONFIG and INVALID_MANIFEST. */
  issues?: FieldIssue[];
}

const RETRYABLE_BY_DEFAULT: ReadonlySet<ConnectorErrorCode> = new Set([
  "CONNECTION_FAILED",
  "TIMEOUT",
  "READ_FAILED",
  "WRITE_FAILED",
]);

/** The single error type of the connector contract: a string code, a retryable flag and the original cause. */
export class ConnectorError extends Error {
  override readonly name: string = "ConnectorError";
  /** Machine-readable error code. */
  readonly code: ConnectorErrorCode;
  /** Whether the runtime may retry the failed operation. */
  readonly retryable: boolean;
  /** Field-level problems for config and manifest errors. */
  readonly issues: FieldIssue[];

  constructor(code: ConnectorErrorCode, message: string, options: ConnectorErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? RETRYABLE_BY_DEFAULT.has(code);
    this.issues = options.issues ?? [];
  }
}

/** Wraps anything thrown into a {@link ConnectorError}, keeping an existing one as it is. */
export function toConnectorError(error: unknown, code: ConnectorErrorCode = "INTERNAL"): ConnectorError {
  if (error instanceof ConnectorError) return error;
  if (isConnectorErrorLike(error)) {
    return new ConnectorError(error.code, error.message, { retryable: error.retryable, cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new ConnectorError(code, message, { cause: error });
}

/** True for a ConnectorError made by another copy of this package. */
function isConnectorErrorLike(error: unknown): error is ConnectorError {
  return (
    error instanceof Error &&
    error.name === "ConnectorError" &&
    typeof (error as { code?: unknown }).code === "string" &&
    typeof (error as { retryable?: unknown }).retryable === "boolean"
  );
}
