import { createHmac, timingSafeEqual } from "node:crypto";
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
export function signToken(claims: Record<string, unknown>, secret: string): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const body = `${encode({ alg: "HS256", typ: "JWT" })}.${encode(claims)}`;
  const signature = createHmac("sha256", secretKey(secret)).update(body).digest("base64url");
  return `${body}.${signature}`;
}

function verifyJwt(token: string, secret: string): string | undefined {
  const parts = token.split(".");
  if (parts.length !== 3) return undefined;
  const [header, payload, signature] = parts as [string, string, string];
  let parsedHeader: { alg?: unknown };
  let claims: { sub?: unknown; exp?: unknown; nbf?: unknown };
  try {
    parsedHeader = JSON.parse(base64UrlDecode(header).toString("utf8")) as { alg?: unknown };
    claims = JSON.parse(base64UrlDecode(payload).toString("utf8")) as typeof claims;
  } catch {
    return undefined;
  }
  if (parsedHeader.alg !== "HS256") return undefined;
  const expected = createHmac("sha256", secretKey(secret)).update(`${header}.${payload}`).digest();
  const given = base64UrlDecode(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  const now = Date.now() / 1000;
  if (typeof claims.exp === "number" && claims.exp < now) return undefined;
  if (typeof claims.nbf === "number" && claims.nbf > now) return undefined;
  return typeof claims.sub === "string" && claims.sub !== "" ? claims.sub : undefined;
}

function sameString(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** Checks bearer tokens and permissions. Without options every request is allowed as a superuser. */
export class Authenticator {
  private readonly options: AuthOptions | undefined;

  constructor(options: AuthOptions | undefined) {
    this.options = options;
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
    let role = this.options.tokens?.find((entry) => sameString(entry.token, token))?.role;
    if (role === undefined && this.options.jwtSecret) role = verifyJwt(token, this.options.jwtSecret);
    if (role === undefined)
      throw new WorkerError("UNAUTHORIZED", "Authentication failed: the token is invalid or expired");
    return { role, superUser: (this.options.superUserRoles ?? []).includes(role) };
  }

  /** Throws FORBIDDEN unless the principal may manage connectors of `tenant`. */
  authorizeTenant(principal: Principal, tenant: string): void {
    if (principal.superUser || !this.options?.tenantRoles) return;
    const roles = this.options.tenantRoles[tenant] ?? [];
    if (!roles.includes(principal.role)) {
      throw new WorkerError(
        "FORBIDDEN",
        `Role '${principal.role}' is not authorized to manage connectors of tenant '${tenant}'`,
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
