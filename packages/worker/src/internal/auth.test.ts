// JWTs checked against an independent implementation: tokens minted by `jose` must be accepted or refused exactly as
// Pulsar's token authentication does, and the tokens `signToken` mints must verify with `jose`.
import { jwtVerify, SignJWT, UnsecuredJWT } from "jose";
import { describe, expect, it } from "vitest";
import { Authenticator, signToken } from "./auth.ts";

const secret = "jose-oracle-secret-of-32-bytes-or-more";
const key = new TextEncoder().encode(secret);
const authenticator = new Authenticator({ jwtSecret: secret, superUserRoles: ["admin"] });
const bearer = (token: string) => `Bearer ${token}`;

describe("JWT authentication against jose", () => {
  it("accepts an HS256 token made by jose and takes the role from sub", async () => {
    const token = await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject("ops").sign(key);
    expect(authenticator.authenticate(bearer(token))).toEqual({ role: "ops", superUser: false });
    const admin = await new SignJWT({}).setProtectedHeader({ alg: "HS256", typ: "JWT" }).setSubject("admin").sign(key);
    expect(authenticator.authenticate(bearer(admin))).toEqual({ role: "admin", superUser: true });
  });

  it("accepts a jose token with a base64 secret, as Pulsar's secret keys are", async () => {
    const raw = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff));
    const base64 = new Authenticator({ jwtSecret: `base64:${raw.toString("base64")}` });
    const token = await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject("ops").sign(raw);
    expect(base64.authenticate(bearer(token)).role).toBe("ops");
  });

  it("refuses jose tokens that are expired, not yet valid, signed with another key or algorithm, or unsigned", async () => {
    const now = Math.floor(Date.now() / 1000);
    const refused = [
      await new SignJWT({})
        .setProtectedHeader({ alg: "HS256" })
        .setSubject("ops")
        .setExpirationTime(now - 10)
        .sign(key),
      await new SignJWT({})
        .setProtectedHeader({ alg: "HS256" })
        .setSubject("ops")
        .setNotBefore(now + 600)
        .sign(key),
      await new SignJWT({})
        .setProtectedHeader({ alg: "HS256" })
        .setSubject("ops")
        .sign(new TextEncoder().encode("another-secret-of-32-bytes-or-more!")),
      await new SignJWT({}).setProtectedHeader({ alg: "HS512" }).setSubject("ops").sign(key),
      new UnsecuredJWT({}).setSubject("admin").encode(),
      await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).sign(key),
    ];
    for (const token of refused) {
      expect(() => authenticator.authenticate(bearer(token)), token).toThrowError(
        expect.objectContaining({ code: "UNAUTHORIZED" }),
      );
    }
  });

  it("mints tokens that jose verifies, claims intact", async () => {
    const exp = Math.floor(Date.now() / 1000) + 600;
    const { payload, protectedHeader } = await jwtVerify(signToken({ sub: "ops", exp }, secret), key, {
      algorithms: ["HS256"],
    });
    expect(protectedHeader.alg).toBe("HS256");
    expect(payload).toEqual({ sub: "ops", exp });
  });
});
