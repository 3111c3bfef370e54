import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { WorkerError } from "../errors.ts";

/** Bearer-token authentication of the admin API. */
export interface AuthOptions {
  /** Static tokens and the role each one grants. */
  tokens?: Array<{ token: string; role: string }>;
  /** Secret of HS256-signed JWTs (Pulsar token style; the role is the `sub` claim). Prefix `base64:` for a base64 key. */
  jwtSecret?: string;
  /** Roles allowed everything, including reloading connectors. */
  superUserRoles?: string[];
  /** When set, a non-superuser role may only manage connectors of the tenants listed for it. */
  tenantRoles?: Record<string, string[]>;
  /**
   * When set, a JWT must carry this value in its `aud` claim (a string or a list), so that tokens minted for other
   * services with the same key are refused (like Pulsar's `tokenAudience`).
   */
  audience?: string;
  /** When set, a JWT must carry this value in its `iss` claim. */
  issuer?: string;
  /** `/metrics` needs a superuser token (true, the default); with false it stays open and shows no exception text. */
  authenticateMetricsEndpoint?: boolean;
}

const AUTH_KEYS = new Set([
  "tokens",
  "jwtSecret",
  "superUserRoles",
  "tenantRoles",
  "audience",
  "issuer",
  "authenticateMetricsEndpoint",
]);

function isStringList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((entry) => typeof entry === "string" && entry !== "");
}

/** Checks auth settings read from a file (they are cast, not typed); throws naming the first wrong field. */
export function checkAuthOptions(options: unknown): AuthOptions | undefined {
  if (options === undefined || options === null) return undefined;
  const fail = (message: string): never => {
    throw new WorkerError("INVALID_CONFIG", `auth: ${message}`);
  };
  if (typeof options !== "object" || Array.isArray(options)) fail("must be a mapping");
  const auth = options as Record<string, unknown>;
  for (const key of Object.keys(auth)) {
    if (!AUTH_KEYS.has(key)) fail(`unknown setting '${key}' (known: ${[...AUTH_KEYS].join(", ")})`);
  }
  if (auth.tokens !== undefined) {
    if (!Array.isArray(auth.tokens)) fail("tokens must be a list of {token, role}");
    (auth.tokens as unknown[]).forEach((entry, index) => {
      const { token, role } = (entry ?? {}) as { token?: unknown; role?: unknown };
      if (typeof token !== "string" || token === "") fail(`tokens.${index}.token must be a non-empty string`);
      if (typeof role !== "string" || role === "") fail(`tokens.${index}.role must be a non-empty string`);
    });
  }
  if (auth.jwtSecret !== undefined && (typeof auth.jwtSecret !== "string" || secretKey(auth.jwtSecret).length === 0)) {
    fail("jwtSecret must be a non-empty string (prefix base64: for a base64 key)");
  }
  if (auth.superUserRoles !== undefined && !isStringList(auth.superUserRoles)) {
    fail("superUserRoles must be a list of role names");
  }
  if (auth.tenantRoles !== undefined) {
    if (!auth.tenantRoles || typeof auth.tenantRoles !== "object" || Array.isArray(auth.tenantRoles)) {
      fail("tenantRoles must map each tenant to a list of role names");
    }
    for (const [tenant, roles] of Object.entries(auth.tenantRoles as Record<string, unknown>)) {
      if (!isStringList(roles)) fail(`tenantRoles.${tenant} must be a list of role names`);
    }
  }
  for (const field of ["audience", "issuer"] as const) {
    if (auth[field] !== undefined && (typeof auth[field] !== "string" || auth[field] === "")) {
      fail(`${field} must be a non-empty string`);
    }
  }
  if (auth.authenticateMetricsEndpoint !== undefined && typeof auth.authenticateMetricsEndpoint !== "boolean") {
    fail("authenticateMetricsEndpoint must be true or false");
  }
  if (!auth.tokens && !auth.jwtSecret) fail("give tokens or jwtSecret (or leave auth out for an open API)");
  return auth as AuthOptions;
}

/** Who made a request. */
export interface Principal {
  role: string;
  superUser: boolean;
}

function base64UrlDecode(part: string): Buffer {
  return Buffer.from(part.replace(/-/g, "+").replace(/_/g, "/"), "base64");
}

function secretKey(secret: string): Buffer {
  return secret.startsWith("base64:") ? Buffer.from(secret.slice(7), "base64") : Buffer.from(secret, "utf8");
}

/** Signs an HS256 JWT; used by tests and by operators to mint tokens. */
/**
 * Refuses a principal that may not install connector packages under the worker's `packageUploaders` (superusers by
 * default, tenant admins, or nobody).
 */
export function authorizePackageInstall(
  principal: Principal,
  uploaders: "superusers" | "tenant-admins" | "none" = "superusers",
): void {
  if (mayInstallPackages(principal, uploaders)) return;
  if (uploaders === "none") {
    throw new WorkerError(
      "FORBIDDEN",
      "This worker installs no connector packages (its packageUploaders is none); use builtin://<name> of an installed connector",
    );
  }
  throw new WorkerError(
    "FORBIDDEN",
    `Installing a connector package needs a superuser role (the worker's packageUploaders is superusers); role '${principal.role}' is not one`,
  );
}

/** Whether a principal may install connector packages under the worker's `packageUploaders`. */
export function mayInstallPackages(
  principal: Principal,
  uploaders: "superusers" | "tenant-admins" | "none" = "superusers",
): boolean {
  return uploaders === "tenant-admins" || (uploaders === "superusers" && principal.superUser);
}

export function signToken(claims: Record<string, unknown>, secret: string): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const body = `${encode({ alg: "HS256", typ: "JWT" })}.${encode(claims)}`;
  const signature = createHmac("sha256", secretKey(secret)).update(body).digest("base64url");
  return `${body}.${signature}`;
}

function verifyJwt(token: string, secret: string, options: AuthOptions): string | undefined {
  const parts = token.split(".");
  if (parts.length !== 3) return undefined;
  const [header, payload, signature] = parts as [string, string, string];
  let parsedHeader: { alg?: unknown };
  let claims: { sub?: unknown; exp?: unknown; nbf?: unknown; aud?: unknown; iss?: unknown };
  try {
    parsedHeader = JSON.parse(base64UrlDecode(header).toString("utf8")) as { alg?: unknown };
    claims = JSON.parse(base64UrlDecode(payload).toString("utf8")) as typeof claims;
  } catch {
    return undefined;
  }
  if (!parsedHeader || typeof parsedHeader !== "object" || !claims || typeof claims !== "object") return undefined;
  if (parsedHeader.alg !== "HS256") return undefined;
  const expected = createHmac("sha256", secretKey(secret)).update(`${header}.${payload}`).digest();
  const given = base64UrlDecode(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  const now = Date.now() / 1000;
  // A time claim that is present must be a number: a string `exp` must not make a token immortal.
  for (const claim of [claims.exp, claims.nbf]) {
    if (claim !== undefined && (typeof claim !== "number" || !Number.isFinite(claim))) return undefined;
  }
  if (typeof claims.exp === "number" && claims.exp < now) return undefined;
  if (typeof claims.nbf === "number" && claims.nbf > now) return undefined;
  if (options.audience !== undefined) {
    const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!audiences.includes(options.audience)) return undefined;
  }
  if (options.issuer !== undefined && claims.iss !== options.issuer) return undefined;
  return typeof claims.sub === "string" && claims.sub !== "" ? claims.sub : undefined;
}

/** Compares digests, so that neither the length nor the content of a configured token shows in the timing. */
function sameString(a: string, b: string): boolean {
  const left = createHash("sha256").update(a).digest();
  const right = createHash("sha256").update(b).digest();
  return timingSafeEqual(left, right);
}

/** Checks bearer tokens and permissions. Without options every request is allowed as a superuser. */
export class Authenticator {
  private readonly options: AuthOptions | undefined;

  constructor(options: AuthOptions | undefined) {
    this.options = checkAuthOptions(options);
  }

  /** Whether `/metrics` needs a superuser token. */
  get metricsProtected(): boolean {
    return this.options !== undefined && this.options.authenticateMetricsEndpoint !== false;
  }

  get enabled(): boolean {
    return this.options !== undefined;
  }

  /** The principal of an `Authorization` header value; throws UNAUTHORIZED. */
  authenticate(header: string | undefined): Principal {
    if (!this.options) return { role: "anonymous", superUser: true };
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
    if (!match) {
      throw new WorkerError("UNAUTHORIZED", "Authentication required: send 'Authorization: Bearer <token>'");
    }
    const token = match[1] as string;
    let role: string | undefined;
    // Every configured token is compared, so the timing does not tell which one (if any) matched.
    for (const entry of this.options.tokens ?? [])
      if (sameString(entry.token, token) && role === undefined) role = entry.role;
    if (role === undefined && this.options.jwtSecret) role = verifyJwt(token, this.options.jwtSecret, this.options);
    if (role === undefined)
      throw new WorkerError("UNAUTHORIZED", "Authentication failed: the token is invalid or expired");
    return { role, superUser: (this.options.superUserRoles ?? []).includes(role) };
  }

  /** Throws FORBIDDEN unless the principal may manage connectors of `tenant`. */
  authorizeTenant(principal: Principal, tenant: string): void {
    if (principal.superUser || !this.options?.tenantRoles) return;
    const roles = Object.hasOwn(this.options.tenantRoles, tenant) ? this.options.tenantRoles[tenant] : undefined;
    if (!roles?.includes(principal.role)) {
      throw new WorkerError(
        "FORBIDDEN",
        `Role '${principal.role}' is not authorized to manage connectors of tenant '${tenant}'`,
      );
    }
  }

  /** Throws FORBIDDEN naming `field` unless the principal may manage `tenant`, which a config field refers to. */
  authorizeReference(principal: Principal, tenant: string, field: string, value: string): void {
    try {
      this.authorizeTenant(principal, tenant);
    } catch {
      throw new WorkerError(
        "FORBIDDEN",
        `Role '${principal.role}' may not use ${field} '${value}': it belongs to tenant '${tenant}', which this role does not manage`,
      );
    }
  }

  /** Throws FORBIDDEN unless the principal is a superuser. */
  requireSuperUser(principal: Principal, action: string): void {
    if (!principal.superUser) {
      throw new WorkerError(
        "FORBIDDEN",
        `Role '${principal.role}' is not a superuser: ${action} needs a superuser role`,
      );
    }
  }
}
