import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { archiveKind, fetchArchive } from "./archive-fetch.ts";

const root = mkdtempSync(join(tmpdir(), "pulsar-connect-archive-fetch-"));
const allowed = join(root, "allowed");
mkdirSync(allowed);
writeFileSync(join(allowed, "ok.tgz"), "tarball bytes");
writeFileSync(join(root, "outside.tgz"), "secret bytes");
symlinkSync(join(root, "outside.tgz"), join(allowed, "escape.tgz"));

afterAll(() => rmSync(root, { recursive: true, force: true }));

async function failure(url: string, settings: { fileDirs?: string[]; maxBytes: number }) {
  try {
    await fetchArchive(url, settings);
  } catch (error) {
    return { code: (error as { code?: string }).code, message: (error as Error).message };
  }
  throw new Error(`${url} was read`);
}

describe("fetchArchive with file:// URLs", () => {
  const url = (path: string) => pathToFileURL(path).href;

  it("reads a file inside fileDirs", async () => {
    const bytes = await fetchArchive(url(join(allowed, "ok.tgz")), { fileDirs: [allowed], maxBytes: 1024 });
    expect(bytes.toString()).toBe("tarball bytes");
  });

  it("refuses files outside fileDirs, links leading out of them, and any file without fileDirs", async () => {
    expect(await failure(url(join(root, "outside.tgz")), { fileDirs: [allowed], maxBytes: 1024 })).toMatchObject({
      code: "FORBIDDEN",
      message: expect.stringContaining("outside the worker's fileDirs"),
    });
    expect(await failure(url(join(allowed, "escape.tgz")), { fileDirs: [allowed], maxBytes: 1024 })).toMatchObject({
      code: "FORBIDDEN",
    });
    expect(await failure(url(join(allowed, "ok.tgz")), { maxBytes: 1024 })).toMatchObject({
      code: "FORBIDDEN",
      message: expect.stringContaining("sets none"),
    });
  });

  it("refuses a file above the size limit with PAYLOAD_TOO_LARGE, and a missing one by name", async () => {
    expect(await failure(url(join(allowed, "ok.tgz")), { fileDirs: [allowed], maxBytes: 4 })).toMatchObject({
      code: "PAYLOAD_TOO_LARGE",
      message: expect.stringContaining("maxPackageBytes (4)"),
    });
    expect(await failure(url(join(allowed, "none.tgz")), { fileDirs: [allowed], maxBytes: 4 })).toMatchObject({
      code: "BAD_PACKAGE",
      message: expect.stringContaining("no such file"),
    });
  });
});

describe("archiveKind", () => {
  it("tells builtin, URL, upload and other archives apart", () => {
    expect(archiveKind("builtin://jdbc-sqlite")).toBe("builtin");
    expect(archiveKind("https://example.org/c.tgz")).toBe("url");
    expect(archiveKind("file:///srv/c.tgz")).toBe("url");
    expect(archiveKind("upload://fixture@1.0.0")).toBe("upload");
    expect(archiveKind("/home/me/c.tgz")).toBe("other");
    expect(archiveKind("function://public/default/f@1")).toBe("other");
  });
});
