/** Statistics, markdown tables and process helpers shared by the suites. */

/** Nearest-rank quantile of numbers (sorted copy): `sorted[ceil(q * n) - 1]`. */
export function nearestRank(values: readonly number[] | Float64Array, q: number): number {
  const sorted = Float64Array.from(values).sort();
  return nearestRankSorted(sorted, q);
}

/**
 * Nearest-rank quantile of an ascending array: `sorted[ceil(q * n) - 1]`. The product
 * `q * n` is rounded to 9 decimals first, so 0.9 * 1e6 is 900000 and not 900000.0000001.
 */
export function nearestRankSorted(sorted: Float64Array, q: number): number {
  const n = sorted.length;
  const rank = Math.max(1, Math.ceil(Math.round(q * n * 1e9) / 1e9));
  return sorted[Math.min(n, rank) - 1]!;
}

export function median(values: readonly number[]): number {
  return nearestRank(values, 0.5);
}

/** A markdown table; cells are printed as given. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [
    line(headers),
    `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`,
    ...rows.map(line),
  ].join('\n');
}

export function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : String(value);
}

/** Bytes as KiB, one decimal, or as MiB, two decimals, from 1 MiB. */
export function bytes(value: number): string {
  if (Math.abs(value) >= 1024 * 1024) return `${(value / 1024 / 1024).toFixed(2)} MiB`;
  return `${(value / 1024).toFixed(1)} KiB`;
}

export function heading(title: string): void {
  console.log(`\n## ${title}\n`);
}

export function paragraph(text: string): void {
  console.log(`${text}\n`);
}

/** Runs the collector several times; throws when the process lacks `--expose-gc`. */
export function fullGc(): void {
  const gc = globalThis.gc;
  if (gc === undefined) throw new Error('this suite needs node --expose-gc');
  for (let i = 0; i < 4; i++) gc();
}

/** Calls gc() once when available (between timed samples). */
export function quickGc(): void {
  globalThis.gc?.();
}

/** Heap plus ArrayBuffer backing stores (typed arrays live outside the JS heap). */
export function retained(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** Nanoseconds since an arbitrary origin, as a number. */
export function nowNs(): number {
  return Number(process.hrtime.bigint());
}
