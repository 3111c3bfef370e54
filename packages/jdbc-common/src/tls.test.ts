import { describe, expect, it } from "vitest";
import { mariadbTls, postgresTls } from "./tls.ts";
import { parseDatabaseUrl } from "./url.ts";

const pg = (query: string) => postgresTls(parseDatabaseUrl(`jdbc:postgresql://db:5432/app${query}`));
const maria = (query: string) => mariadbTls(parseDatabaseUrl(`jdbc:mariadb://db:3306/app${query}`));

describe("PostgreSQL TLS parameters (libpq sslmode)", () => {
  it("maps every sslmode faithfully and verifies for ssl=true", () => {
    expect(pg("")).toBe(false);
    expect(pg("?sslmode=disable")).toBe(false);
    expect(pg("?sslmode=require")).toEqual({ verifyChain: false, verifyHost: false });
    expect(pg("?sslmode=require&sslrootcert=/ca.pem")).toEqual({
      verifyChain: true,
      verifyHost: false,
      caFile: "/ca.pem",
    });
    expect(pg("?sslmode=verify-ca")).toEqual({ verifyChain: true, verifyHost: false });
    expect(pg("?sslmode=verify-full")).toEqual({ verifyChain: true, verifyHost: true });
    expect(pg("?ssl=true")).toEqual({ verifyChain: true, verifyHost: true });
    expect(pg("?ssl")).toEqual({ verifyChain: true, verifyHost: true });
    expect(pg("?ssl=true&sslmode=require")).toEqual({ verifyChain: false, verifyHost: false });
  });

  it("refuses what node-postgres cannot honour, naming the parameter", () => {
    expect(() => pg("?sslmode=prefer")).toThrow(/sslmode=prefer may fall back/);
    expect(() => pg("?sslmode=allow")).toThrow(/sslmode=allow/);
    expect(() => pg("?sslmode=verify")).toThrow(/sslmode must be/);
    expect(() => pg("?ssl=false&sslmode=verify-full")).toThrow(/contradict/);
    expect(() => pg("?ssl=yes")).toThrow(/ssl must be true or false/);
    expect(() => pg("?sslmode=verify-full&sslcert=/c.pem")).toThrow(/sslcert is not supported/);
  });
});

describe("MariaDB TLS parameters (Connector/J)", () => {
  it("honours sslMode and the older useSsl flags", () => {
    expect(maria("")).toBe(false);
    expect(maria("?sslMode=disable")).toBe(false);
    expect(maria("?sslMode=trust")).toEqual({ verifyChain: false, verifyHost: false });
    expect(maria("?sslMode=verify-ca&serverSslCert=/ca.pem")).toEqual({
      verifyChain: true,
      verifyHost: false,
      caFile: "/ca.pem",
    });
    expect(maria("?sslMode=verify-full")).toEqual({ verifyChain: true, verifyHost: true });
    expect(maria("?useSsl=true")).toEqual({ verifyChain: true, verifyHost: true });
    expect(maria("?useSSL=true&trustServerCertificate=true")).toEqual({ verifyChain: false, verifyHost: false });
    expect(maria("?useSSL=true&verifyServerCertificate=false")).toEqual({ verifyChain: false, verifyHost: false });
  });

  it("refuses parameters it cannot honour, naming them", () => {
    expect(() => maria("?sslMode=required")).toThrow(/sslMode must be/);
    expect(() => maria("?useSsl=true&keyStore=/k.jks")).toThrow(/keyStore is not supported/);
    expect(() => maria("?sslMode=disable&useSsl=true")).toThrow(/contradict/);
  });
});
