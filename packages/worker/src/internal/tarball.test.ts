import { describe, expect, it } from "vitest";
import { sinkPackageJson, tarball } from "../../test/fixtures/tar-writer.ts";
import { inspectTarball } from "./tarball.ts";

const LIMIT = 1024 * 1024;

function refusal(entries: Parameters<typeof tarball>[0]): string {
  try {
    inspectTarball(tarball(entries), LIMIT);
  } catch (error) {
    expect((error as { code?: string }).code).toBe("BAD_PACKAGE");
    return (error as Error).message;
  }
  throw new Error("the tarball was accepted");
}

describe("inspectTarball", () => {
  it("reads the package.json of an npm-style tarball and accepts links inside the package", () => {
    const contents = inspectTarball(
      tarball([
        { path: "package/package.json", content: sinkPackageJson() },
        { path: "package/lib", type: "dir" },
        { path: "package/lib/index.js", content: "export default 1;\n" },
        { path: "package/index.js", type: "symlink", target: "lib/index.js" },
        { path: "package/copy.js", type: "hardlink", target: "package/lib/index.js" },
      ]),
      LIMIT,
    );
    expect(contents.root).toBe("package");
    expect(contents.entries).toBe(5);
    expect(contents.packageJson).toMatchObject({ name: "fixture-hand-made", pulsarConnector: { kind: "sink" } });
  });

  it("refuses paths that leave the package folder", () => {
    const message = refusal([
      { path: "package/package.json", content: sinkPackageJson() },
      { path: "package/../../etc/cron.d/evil", content: "x" },
    ]);
    expect(message).toContain("leaves the package folder ('..')");
    expect(refusal([{ path: "/etc/passwd", content: "x" }])).toContain("has an absolute path");
  });

  it("refuses symlinks and hard links out of the package folder", () => {
    const base = { path: "package/package.json", content: sinkPackageJson() };
    expect(refusal([base, { path: "package/up", type: "symlink", target: "../../home" }])).toContain(
      "symlink 'package/up' points out of the package folder",
    );
    expect(refusal([base, { path: "package/abs", type: "symlink", target: "/etc/passwd" }])).toContain(
      "points to the absolute path '/etc/passwd'",
    );
    expect(refusal([base, { path: "package/hard", type: "hardlink", target: "other/secret" }])).toContain(
      "hard link 'package/hard' points out of the package folder",
    );
  });

  it("refuses links that could be followed out: '..' after a name, entries under a symlink", () => {
    const base = { path: "package/package.json", content: sinkPackageJson() };
    expect(
      refusal([
        base,
        { path: "package/b", type: "symlink", target: "../package" },
        { path: "package/c", type: "symlink", target: "b/.." },
      ]),
    ).toContain("goes up ('..') after a folder name");
    expect(
      refusal([
        base,
        { path: "package/here", type: "symlink", target: "." },
        { path: "package/here/up", type: "symlink", target: "../x" },
      ]),
    ).toContain("entry 'package/here/up' lies under the symlink 'package/here'");
    expect(
      refusal([
        base,
        { path: "package/lib/file.js", content: "" },
        { path: "package/lib", type: "symlink", target: "." },
      ]),
    ).toContain("lies under the symlink 'package/lib'");
  });

  it("refuses devices and fifos, several top folders, a missing or broken package.json", () => {
    const base = { path: "package/package.json", content: sinkPackageJson() };
    expect(refusal([base, { path: "package/pipe", type: "fifo" }])).toContain("is not a file, folder or link");
    expect(refusal([base, { path: "other/file.js", content: "" }])).toContain("more than one top folder");
    expect(refusal([{ path: "package/index.js", content: "" }])).toContain("has no package.json");
    expect(refusal([{ path: "package/package.json", content: "{ nope" }])).toContain("not valid JSON");
  });

  it("refuses what is not a gzip'd tar, and content that unpacks beyond the limit", () => {
    expect(() => inspectTarball(Buffer.from("PK\u0003\u0004 a zip"), LIMIT)).toThrow(/not a gzip'd tar file/);
    const big = tarball([{ path: "package/package.json", content: `${sinkPackageJson()}${" ".repeat(200_000)}` }]);
    expect(() => inspectTarball(big, 100_000)).toThrow(/unpacks to more than 100000 bytes/);
  });
});
