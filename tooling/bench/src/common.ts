import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** Root of the repository. */
export const repoRoot: string = join(import.meta.dirname, "../../..");

/** A Java 17 binary: JAVA17_HOME, else a 17 JDK under /usr/lib/jvm, else `java` on PATH. */
export function findJava17(): string {
  if (process.env.JAVA17_HOME) return join(process.env.JAVA17_HOME, "bin/java");
  const base = "/usr/lib/jvm";
  if (existsSync(base)) {
    const candidate = readdirSync(base).find(
      (entry) => /(^|-)17(-|$|\.)/.test(entry) && existsSync(join(base, entry, "bin/java")),
    );
    if (candidate) return join(base, candidate, "bin/java");
  }
  return "java";
}

/** Peak resident memory (VmHWM) of a process, in MB, from /proc. */
export function peakRssMb(pid: number = process.pid): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const match = /VmHWM:\s+(\d+) kB/.exec(status);
    return match ? Math.round(Number(match[1]) / 1024) : null;
  } catch {
    return null;
  }
}

/** `git rev-parse --short HEAD`, for labelling results. */
export function revision(checkout: string = repoRoot): string {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: checkout }).toString().trim();
  } catch {
    return "unknown";
  }
}
