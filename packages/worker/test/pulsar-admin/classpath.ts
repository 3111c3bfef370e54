import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const pom = join(import.meta.dirname, "pom.xml");
const root = resolve(import.meta.dirname, "../../../..");

/** True when Java and Maven are installed (the compatibility test needs both). */
export function javaAvailable(): boolean {
  return spawnSync("java", ["-version"]).status === 0 && spawnSync("mvn", ["-v"]).status === 0;
}

/**
 * Resolves the classpath of Apache Pulsar's admin CLI from Maven Central into .run/jars/pulsar-admin/lib (once;
 * reused while pom.xml is unchanged) and returns the classpath string.
 */
export function pulsarAdminClasspath(): string {
  const out = join(root, ".run", "jars", "pulsar-admin");
  const lib = join(out, "lib");
  const stamp = createHash("sha256").update(readFileSync(pom)).digest("hex").slice(0, 16);
  const stampFile = join(out, ".stamp");
  if (!existsSync(stampFile) || readFileSync(stampFile, "utf8").trim() !== stamp) {
    // Jars of an earlier resolution would stay on the classpath next to their replacements.
    rmSync(lib, { recursive: true, force: true });
    mkdirSync(out, { recursive: true });
    const settings = join(out, "maven-settings.xml");
    writeFileSync(
      settings,
      "<settings><mirrors><mirror><id>central</id><mirrorOf>*</mirrorOf><url>https://repo.maven.apache.org/maven2</url></mirror></mirrors></settings>\n",
    );
    execFileSync(
      "mvn",
      [
        "-B",
        "-q",
        "-s",
        settings,
        "-f",
        pom,
        "dependency:copy-dependencies",
        `-DoutputDirectory=${lib}`,
        "-DincludeScope=runtime",
        "-Dmdep.prependGroupId=true",
      ],
      { stdio: "ignore", timeout: 280_000 },
    );
    writeFileSync(stampFile, `${stamp}\n`);
  }
  return `${lib}/*`;
}
