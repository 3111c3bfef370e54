/** One line of a file: its bytes without the line end, its 1-based number and the byte offset where it starts. */
export interface Line {
  bytes: Buffer;
  number: number;
  offset: number;
}

/** Pulsar's default maximum message size: a longer line could not be sent, and holding it would use unbounded memory. */
export const MAX_LINE_BYTES: number = 5 * 1024 * 1024;

/**
 * Splits a byte stream into lines ending in \n, \r\n or \r (as upstream reads files). Fed chunk by chunk, it holds
 * only the unfinished last line; a last line without a line end comes out at `end()`.
 */
export class LineSplitter {
  private readonly maxLineBytes: number;
  private rest: Buffer[] = [];
  private restLength = 0;
  /** A chunk ended in \r: a \n at the start of the next chunk belongs to the same line end. */
  private afterCr = false;
  private nextNumber = 1;
  /** Offset in the (decompressed) stream of the first byte not yet in a line. */
  private lineStart = 0;

  constructor(maxLineBytes: number = MAX_LINE_BYTES) {
    this.maxLineBytes = maxLineBytes;
  }

  push(chunk: Buffer): Line[] {
    const lines: Line[] = [];
    let from = 0;
    if (this.afterCr && chunk[0] === 0x0a) {
      from = 1;
      this.lineStart += 1;
    }
    this.afterCr = false;
    for (let i = from; i < chunk.length; i++) {
      const byte = chunk[i];
      if (byte !== 0x0a && byte !== 0x0d) continue;
      const piece = chunk.subarray(from, i);
      const bytes = this.restLength > 0 ? Buffer.concat([...this.rest, piece]) : Buffer.from(piece);
      lines.push({ bytes, number: this.nextNumber++, offset: this.lineStart });
      this.rest = [];
      this.restLength = 0;
      let end = i + 1;
      if (byte === 0x0d) {
        if (i + 1 < chunk.length) {
          if (chunk[i + 1] === 0x0a) end = i + 2;
        } else {
          this.afterCr = true;
        }
      }
      this.lineStart += bytes.length + (end - i);
      from = end;
      i = end - 1;
    }
    if (from < chunk.length) {
      this.rest.push(Buffer.from(chunk.subarray(from)));
      this.restLength += chunk.length - from;
      if (this.restLength > this.maxLineBytes) {
        throw new Error(`line ${this.nextNumber} is longer than ${this.maxLineBytes} bytes`);
      }
    }
    return lines;
  }

  /** The last line, when the stream did not end with a line end. */
  end(): Line[] {
    if (this.restLength === 0) return [];
    const line = { bytes: Buffer.concat(this.rest), number: this.nextNumber++, offset: this.lineStart };
    this.rest = [];
    this.restLength = 0;
    return [line];
  }
}
