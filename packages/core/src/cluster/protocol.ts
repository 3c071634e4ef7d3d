/**
 * cluster/: aggregation across `node:cluster` (or `child_process.fork`) workers. Each
 * worker sends the deltas of its series to the primary over IPC; the primary merges
 * them into its own Monitor's registry, so every reader of the primary (snapshot,
 * exporters, health, analytics, alerts) sees the fleet. May import from metrics/,
 * sketch/, clock/ and diagnostics/, and from the Monitor's public API.
 *
 * This file: the wire format (plain JSON, as Node's default IPC serialization is
 * JSON) and its validation on the primary, which trusts nothing it receives.
 */

/** Marks our messages among whatever else a worker sends its primary. */
export const PROTOCOL = 'prsm.cluster/1';

/** One sub-window of a histogram or timer: `[startMs, count, sum, min, max, errors, centroids]`. */
export type WireSubWindow = [number, number, number, number, number, number, string];

/** One series' delta. `u`/`d` (unit, description) ride only on a series' first entry. @internal */
export interface WireEntry {
  /** c: counter increase, g: gauge value, h: histogram sub-windows, t: timer sub-windows. */
  readonly t: 'c' | 'g' | 'h' | 't';
  readonly n: string;
  readonly c: string;
  readonly g: Readonly<Record<string, string>>;
  readonly l?: Readonly<Record<string, string>>;
  readonly u?: string;
  readonly d?: string;
  /** Counter increase or gauge value. */
  readonly v?: number;
  /** Histogram and timer sub-windows, oldest first. */
  readonly w?: readonly WireSubWindow[];
}

/** What a worker sends: a chunk of its deltas, or a heartbeat when it has none. @internal */
export interface WireMessage {
  readonly prsm: typeof PROTOCOL;
  /** The sender's process id (worker ids differ between cluster and fork). */
  readonly pid: number;
  /** Increases by one per message: the primary counts gaps as lost messages. */
  readonly seq: number;
  readonly entries: readonly WireEntry[];
  /** The last message of a worker that is shutting down. */
  readonly final?: boolean;
}

/** Encodes centroids (Float32, interleaved mean and weight) as base64: 8 bytes a centroid. */
export function encodeCentroids(centroids: Float32Array): string {
  return Buffer.from(centroids.buffer, centroids.byteOffset, centroids.byteLength).toString(
    'base64',
  );
}

/** Decodes {@link encodeCentroids}; null when the bytes are not whole (mean, weight) pairs. */
export function decodeCentroids(text: string): Float32Array | null {
  const bytes = Buffer.from(text, 'base64');
  if (bytes.byteLength % 8 !== 0) return null;
  // Copied into a fresh, aligned buffer (a Buffer may sit at any offset of its pool).
  const out = new Float32Array(bytes.byteLength / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

/** Whether a value is one of our messages (cheap: the full check is per entry). */
export function isWireMessage(value: unknown): value is WireMessage {
  if (value === null || typeof value !== 'object') return false;
  const m = value as Record<string, unknown>;
  return (
    m['prsm'] === PROTOCOL &&
    typeof m['pid'] === 'number' &&
    typeof m['seq'] === 'number' &&
    Array.isArray(m['entries'])
  );
}

function isStringRecord(value: unknown): value is Readonly<Record<string, string>> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  for (const v of Object.values(value as Record<string, unknown>)) {
    if (typeof v !== 'string') return false;
  }
  return true;
}

/** A validated entry, or the reason it was refused. */
export function checkEntry(value: unknown): WireEntry | string {
  if (value === null || typeof value !== 'object') return 'entry is not an object';
  const e = value as Record<string, unknown>;
  const t = e['t'];
  if (t !== 'c' && t !== 'g' && t !== 'h' && t !== 't') return 'bad type';
  if (typeof e['n'] !== 'string' || typeof e['c'] !== 'string') return 'bad name or component';
  if (!isStringRecord(e['g'])) return 'bad tags';
  if (e['l'] !== undefined && !isStringRecord(e['l'])) return 'bad labels';
  if (e['u'] !== undefined && typeof e['u'] !== 'string') return 'bad unit';
  if (e['d'] !== undefined && typeof e['d'] !== 'string') return 'bad description';
  if (t === 'c' || t === 'g') {
    const v = e['v'];
    if (typeof v !== 'number' || !Number.isFinite(v) || (t === 'c' && v < 0)) return 'bad value';
    return value as WireEntry;
  }
  const w = e['w'];
  if (!Array.isArray(w)) return 'bad sub-windows';
  for (const sub of w as unknown[]) {
    if (!Array.isArray(sub) || sub.length !== 7) return 'bad sub-window';
    for (let i = 0; i < 6; i++) {
      if (typeof sub[i] !== 'number' || !Number.isFinite(sub[i])) return 'bad sub-window number';
    }
    if (typeof sub[6] !== 'string') return 'bad centroids';
  }
  return value as WireEntry;
}
