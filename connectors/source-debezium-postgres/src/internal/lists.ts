/** Entries of a comma-separated config list, trimmed, empty ones dropped. */
export function splitList(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part !== "");
}
