// Key hashing of the Java client's partition routers (HashingScheme.JavaStringHash / Murmur3_32Hash).

/** Java String.hashCode over UTF-16 code units, as a signed int32. */
export function javaStringHashCode(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h;
}

/** MurmurHash3 x86 32-bit, seed 0, over the given bytes; signed int32 like Java's. */
export function murmur3_32(data: Uint8Array, seed = 0): number {
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  let h = seed | 0;
  const len = data.length;
  const blocks = len & ~3;
  for (let i = 0; i < blocks; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  const rest = len & 3;
  if (rest === 3) k ^= data[blocks + 2]! << 16;
  if (rest >= 2) k ^= data[blocks + 1]! << 8;
  if (rest >= 1) {
    k ^= data[blocks]!;
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
  }
  h ^= len;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

export type HashingScheme = "JavaStringHash" | "Murmur3_32Hash";

/** Non-negative key hash, as the Java client's Hash.makeHash (hash & Integer.MAX_VALUE). */
export function keyHash(key: string, scheme: HashingScheme): number {
  const h = scheme === "Murmur3_32Hash" ? murmur3_32(Buffer.from(key, "utf8")) : javaStringHashCode(key);
  return h & 0x7fffffff;
}

/** Partition chosen for a keyed message by the Java default (round-robin) router. */
export function partitionForKey(key: string, numPartitions: number, scheme: HashingScheme): number {
  return keyHash(key, scheme) % numPartitions;
}
