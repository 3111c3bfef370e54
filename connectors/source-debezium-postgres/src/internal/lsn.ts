/** A WAL position (PostgreSQL `pg_lsn`) as a 64-bit unsigned integer. */
export type Lsn = bigint;

/** Parses the text form `XXXXXXXX/XXXXXXXX`. */
export function parseLsn(text: string): Lsn {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text.trim());
  if (!match) throw new Error(`not a WAL position: ${JSON.stringify(text)}`);
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}

/** The text form PostgreSQL prints. */
export function formatLsn(lsn: Lsn): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** The later of two positions. */
export function laterLsn(a: Lsn, b: Lsn): Lsn {
  return a > b ? a : b;
}
