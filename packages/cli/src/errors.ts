/** Error codes of the CLI; each maps to an exit code. */
export type CliErrorCode =
  | "USAGE"
  | "INVALID_CONFIG"
  | "UNREACHABLE"
  | "UNAUTHORIZED"
  | "FORBIDDEN"
  | "NOT_FOUND"
  | "FAILED";

const EXIT_CODES: Record<CliErrorCode, number> = {
  USAGE: 2,
  INVALID_CONFIG: 2,
  UNREACHABLE: 3,
  UNAUTHORIZED: 4,
  FORBIDDEN: 4,
  NOT_FOUND: 5,
  FAILED: 1,
};

/** A failure the CLI reports to the person at the terminal: what went wrong, and what to do about it. */
export class CliError extends Error {
  override readonly name: string = "CliError";
  readonly code: CliErrorCode;
  /** Lines printed after the message, e.g. one per invalid field. */
  readonly details: string[];
  /** What to do next. */
  readonly hint: string | undefined;

  constructor(
    code: CliErrorCode,
    message: string,
    options: { details?: string[]; hint?: string; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? [];
    this.hint = options.hint;
  }

  /** Process exit code of this error. */
  get exitCode(): number {
    return EXIT_CODES[this.code];
  }
}
