export type ServicesErrorCode =
  | "UNKNOWN_SERVICE"
  | "BAD_PORT"
  | "INVALID_ENV"
  | "TEMPLATE_VARIABLE_MISSING"
  | "JAVA_NOT_FOUND"
  | "JARS_FETCH_FAILED"
  | "PORT_IN_USE"
  | "START_FAILED"
  | "NOT_READY"
  | "NOT_INSTALLED"
  | "SETUP_FAILED"
  | "LOCK_TIMEOUT";

/** The one error type of the services tooling; `code` says what went wrong, `cause` keeps the original error. */
export class ServicesError extends Error {
  readonly code: ServicesErrorCode;

  constructor(code: ServicesErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ServicesError";
    this.code = code;
  }
}
