/**
 * The subset of Java's DateTimeFormatter patterns that time partitioning accepts (upstream's
 * `timePartitionPattern`): yyyy/yy, MM/M, dd/d, HH/H, mm/m, ss/s, SSS, text in single quotes ('' is a quote), and any
 * character that is not a letter. Times are formatted in UTC.
 */
export type TimePatternPart = { literal: string } | { field: "y" | "M" | "d" | "H" | "m" | "s" | "S"; width: number };

const FIELDS = new Set(["y", "M", "d", "H", "m", "s", "S"]);

/** Parses a pattern; throws an Error naming the first unsupported letter. */
export function parseTimePattern(pattern: string): TimePatternPart[] {
  const parts: TimePatternPart[] = [];
  let i = 0;
  while (i < pattern.length) {
    const char = pattern[i] as string;
    if (char === "'") {
      if (pattern[i + 1] === "'") {
        parts.push({ literal: "'" });
        i += 2;
        continue;
      }
      const end = pattern.indexOf("'", i + 1);
      if (end < 0) throw new Error(`has an unterminated quote at position ${i}`);
      parts.push({ literal: pattern.slice(i + 1, end) });
      i = end + 1;
      continue;
    }
    if (/[A-Za-z]/.test(char)) {
      if (!FIELDS.has(char)) {
        throw new Error(`uses the letter '${char}', which is not supported (use yyyy, MM, dd, HH, mm, ss, SSS)`);
      }
      let width = 1;
      while (pattern[i + width] === char) width++;
      if (char === "y" && width !== 2 && width !== 4) throw new Error("must write the year as yyyy or yy");
      parts.push({ field: char as "y", width });
      i += width;
      continue;
    }
    parts.push({ literal: char });
    i++;
  }
  return parts;
}

/** Formats epoch milliseconds with a parsed pattern, in UTC. */
export function formatTime(parts: readonly TimePatternPart[], epochMs: number): string {
  const date = new Date(epochMs);
  const values: Record<string, number> = {
    y: date.getUTCFullYear(),
    M: date.getUTCMonth() + 1,
    d: date.getUTCDate(),
    H: date.getUTCHours(),
    m: date.getUTCMinutes(),
    s: date.getUTCSeconds(),
    S: date.getUTCMilliseconds(),
  };
  return parts
    .map((part) => {
      if ("literal" in part) return part.literal;
      const value = values[part.field] as number;
      if (part.field === "y" && part.width === 2) return String(value % 100).padStart(2, "0");
      return String(value).padStart(part.width, "0");
    })
    .join("");
}

const UNIT_MS: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000, "": 1 };

/** Upstream's `timePartitionDuration`: `30d`, `24h`, `30m`, `10s`, or milliseconds; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+)([dhms]?)$/i.exec(text.trim());
  if (!match) return undefined;
  const ms = Number(match[1]) * (UNIT_MS[(match[2] ?? "").toLowerCase()] as number);
  return ms > 0 && Number.isSafeInteger(ms) ? ms : undefined;
}
