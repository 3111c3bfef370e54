import type { FieldIssue } from "@pulsar-connect/core/host";

/** Error codes of the worker; each maps to an HTTP status. */
export type WorkerErrorCode =
  | "BAD_REQUEST"
  | "INVALID_CONFIG"
  | "UNAUTHORIZED"
  | "FORBIDDEN"
  | "NOT_FOUND"
  | "ALREADY_EXISTS"
  | "CONFLICT"
  | "PRECONDITION_FAILED"
  | "PAYLOAD_TOO_LARGE"
  | "BAD_PACKAGE"
  | "INSTALL_FAILED"
  | "UNSUPPORTED"
  | "NOT_READY"
  | "DATA_DIR_IN_USE"
  | "STORE_FAILED"
  | "INTERNAL";

const STATUS: Record<WorkerErrorCode, number> = {
  BAD_REQUEST: 400,
  INVALID_CONFIG: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 400,
  CONFLICT: 409,
  PRECONDITION_FAILED: 412,
  PAYLOAD_TOO_LARGE: 413,
  BAD_PACKAGE: 400,
  INSTALL_FAILED: 400,
  UNSUPPORTED: 400,
  NOT_READY: 503,
  DATA_DIR_IN_USE: 409,
  STORE_FAILED: 500,
  INTERNAL: 500,
};

/** Options of a {@link WorkerError}. */
export interface WorkerErrorOptions {
  cause?: unknown;
  issues?: FieldIssue[];
}

/** The worker's error family: a string code, the HTTP status it answers with, field issues when relevant. */
export class WorkerError extends Error {
  override readonly name: string = "WorkerError";
  /** Machine-readable code. */
  readonly code: WorkerErrorCode;
  /** Field-level problems (config validation, refused updates). */
  readonly issues: FieldIssue[];

  constructor(code: WorkerErrorCode, message: string, options: WorkerErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.issues = options.issues ?? [];
  }

  /** HTTP status of this error. */
  get status(): number {
    return STATUS[this.code];
  }
}
