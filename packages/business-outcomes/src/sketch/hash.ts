/**
 * sketch/: the distinct-count sketch (HyperLogLog) and the string hash it needs.
 * Imports nothing.
 */

/** MurmurHash3 (x86, 32-bit) over UTF-16 code units, two units a block. */
function murmur3(text: string, seed: number): number {
  let h = seed;
  const n = text.length;
  let i = 0;
  for (; i + 1 < n; i += 2) {
    let k = text.charCodeAt(i) | (text.charCodeAt(i + 1) << 16);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  if (i < n) {
    let k = text.charCodeAt(i);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= n * 2;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A 64-bit hash of a string's UTF-16 code units, as two 32-bit halves written into
 * `out` (`out[0]` high, `out[1]` low): MurmurHash3 (x86, 32-bit) with two different
 * seeds. Not cryptographic; allocates nothing.
 *
 * @internal
 */
export function hash64(text: string, out: Uint32Array, seed = 0): void {
  out[0] = murmur3(text, seed ^ 0x9747b28c);
  out[1] = murmur3(text, seed ^ 0x5bd1e995);
}
