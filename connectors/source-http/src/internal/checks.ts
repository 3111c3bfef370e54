import { createHash, createHmac, timingSafeEqual } from "node:crypto";

const digest = (text: string | Buffer) => createHash("sha256").update(text).digest();

/** Compares two texts in time that depends on neither (both are hashed to the same length first). */
export function sameSecret(given: string | undefined, expected: string): boolean {
  return given !== undefined && timingSafeEqual(digest(given), digest(expected));
}

/** True when `header` is `prefix` + the lower-case hex HMAC-SHA256 of `body` under `secret` (hex case ignored). */
export function signatureMatches(header: string | undefined, body: Buffer, secret: string, prefix: string): boolean {
  if (header === undefined) return false;
  const expected = `${prefix}${createHmac("sha256", secret).update(body).digest("hex")}`;
  const given = header.startsWith(prefix) ? `${prefix}${header.slice(prefix.length).toLowerCase()}` : header;
  return sameSecret(given, expected);
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The record value of a body in a body format, or the reason the body does not fit it. */
export function bodyValue(
  body: Buffer,
  format: "bytes" | "string" | "json",
): { value: Uint8Array | string } | { refused: string } {
  if (format === "bytes") return { value: new Uint8Array(body.buffer, body.byteOffset, body.byteLength) };
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    return { refused: "the body is not UTF-8 text" };
  }
  if (format === "string") return { value: text };
  try {
    JSON.parse(text);
  } catch (error) {
    return { refused: `the body is not JSON: ${(error as Error).message}` };
  }
  // Sent as it came: parsing and writing it again would lose number precision and formatting.
  return { value: new Uint8Array(body.buffer, body.byteOffset, body.byteLength) };
}
