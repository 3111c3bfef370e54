/** Calls of the worker's admin and console APIs with the token the user logged in with. */

const TOKEN_KEY = "pulsar-connect-console-token";

export type Kind = "sink" | "source";

export interface FieldIssue {
  path: string;
  message: string;
}

/** A refused request: the worker's reason and its field-level issues. */
export class ApiError extends Error {
  readonly status: number;
  readonly issues: FieldIssue[];
  constructor(status: number, message: string, issues: FieldIssue[] = []) {
    super(message);
    this.status = status;
    this.issues = issues;
  }
}

let token: string | null = sessionStorage.getItem(TOKEN_KEY);
const listeners = new Set<() => void>();

export function currentToken(): string | null {
  return token;
}

export function setToken(value: string | null): void {
  token = value;
  if (value === null) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, value);
  for (const listener of listeners) listener();
}

export function onTokenChange(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export async function call<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const init: RequestInit = { method, headers };
  if (body !== undefined) {
    headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const text = await response.text();
  let json: unknown;
  try {
    json = text === "" ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!response.ok) {
    const answer = (json ?? {}) as { reason?: string; issues?: FieldIssue[] };
    const error = new ApiError(response.status, answer.reason ?? (text || response.statusText), answer.issues ?? []);
    // A token that stops working (expired, removed) sends the user back to the login page.
    if (response.status === 401 && token !== null) setToken(null);
    throw error;
  }
  return json as T;
}

export const plural = (kind: Kind) => (kind === "sink" ? "sinks" : "sources");

export function connectorPath(kind: Kind, tenant: string, namespace: string, name: string): string {
  return `/admin/v3/${plural(kind)}/${[tenant, namespace, name].map(encodeURIComponent).join("/")}`;
}

export interface ConnectorSummary {
  kind: Kind;
  tenant: string;
  namespace: string;
  name: string;
  type: string;
  guarantee: string;
  parallelism: number;
  instances: number;
  running: number;
  stopped: number;
  received: number;
  written: number;
  exceptions: number;
  lastError: { exceptionString: string; timestampMs: number } | null;
  backlog: number | null;
  deadLetterTopics: string[];
}

export interface ConfigField {
  fieldName: string;
  typeName: string;
  attributes: { required: string; defaultValue: string; sensitive: string; help: string };
}

export interface InstanceStatus {
  running: boolean;
  error: string;
  numRestarts: number;
  numReadFromPulsar?: number;
  numReceivedFromSource?: number;
  numWrittenToSink?: number;
  numWritten?: number;
  numSystemExceptions: number;
  numSinkExceptions?: number;
  numSourceExceptions?: number;
  latestSystemExceptions: Array<{ exceptionString: string; timestampMs: number }>;
  latestSinkExceptions?: Array<{ exceptionString: string; timestampMs: number }>;
  latestSourceExceptions?: Array<{ exceptionString: string; timestampMs: number }>;
  workerId: string;
  state?: string;
}

export interface ConnectorStatus {
  numInstances: number;
  numRunning: number;
  instances: Array<{ instanceId: number; status: InstanceStatus }>;
}

export interface DeadLetter {
  id: string;
  publishTime: number;
  key: string | null;
  value: string;
  valueEncoding: "utf8" | "base64";
  size: number;
  reason: string;
  originTopic: string | null;
  properties: Record<string, string>;
}
