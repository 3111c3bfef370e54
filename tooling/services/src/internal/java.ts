import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { ServicesError } from "./errors.ts";

const JVM_DIR = "/usr/lib/jvm";

/** The major version `java -version` reports, or undefined when the binary does not run. */
export function javaMajorVersion(javaBin: string): number | undefined {
  // `java -version` prints to stderr.
  const result = spawnSync(javaBin, ["-version"], { encoding: "utf8", timeout: 30_000 });
  if (result.status !== 0) return undefined;
  return parseJavaVersion(`${result.stderr}${result.stdout}`);
}

export function parseJavaVersion(output: string): number | undefined {
  const match = /version "(\d+)(?:\.(\d+))?/.exec(output);
  if (!match) return undefined;
  const major = Number(match[1]);
  // Java 8 and older report "1.8.0_..."
  return major === 1 ? Number(match[2]) : major;
}

let cached: string | undefined;

/**
 * Java 17 binary for the servers: JAVA17_HOME, else a JDK 17 under /usr/lib/jvm. Never PATH: Cassandra 5.0
 * refuses anything newer than 17, and a machine may have a newer default JDK.
 */
export function resolveJava17(env: NodeJS.ProcessEnv = process.env): string {
  if (cached) return cached;
  const candidates: string[] = [];
  if (env.JAVA17_HOME) candidates.push(join(env.JAVA17_HOME, "bin/java"));
  if (existsSync(JVM_DIR)) {
    for (const entry of readdirSync(JVM_DIR).sort()) {
      if (/17/.test(entry)) candidates.push(join(JVM_DIR, entry, "bin/java"));
    }
  }
  const checked: string[] = [];
  for (const candidate of candidates) {
    if (!existsSync(candidate)) continue;
    const major = javaMajorVersion(candidate);
    checked.push(`${candidate} (${major ?? "does not run"})`);
    if (major === 17) {
      cached = candidate;
      return candidate;
    }
  }
  throw new ServicesError(
    "JAVA_NOT_FOUND",
    "no Java 17 found (Cassandra 5.0 needs exactly 11 or 17). Set JAVA17_HOME to a JDK 17, or install one " +
      "(Debian: apt-get install -y openjdk-17-jdk-headless)." +
      (checked.length > 0 ? ` Checked: ${checked.join(", ")}` : ""),
  );
}
