/**
 * GPU utilisation from `nvidia-smi`, sampled off the hot path (a child process with a
 * timeout). Where the binary is absent the probe says so, once, and stops trying: GPU
 * use is then reported as unavailable, never as zero.
 */
import { execFile } from 'node:child_process';

/**
 * One reading over every GPU `nvidia-smi` lists.
 *
 * @example
 * ```ts
 * const r: GpuReading = { gpus: 1, utilization: 0.93, memoryUsedBytes: 15e9, memoryTotalBytes: 16e9 };
 * ```
 */
export interface GpuReading {
  /** GPUs read. */
  readonly gpus: number;
  /** Mean utilisation over the GPUs, 0..1. */
  readonly utilization: number;
  /** Memory in use over the GPUs, bytes. */
  readonly memoryUsedBytes: number;
  /** Memory over the GPUs, bytes. */
  readonly memoryTotalBytes: number;
}

/**
 * A GPU sample: a reading, or why there is none.
 *
 * @example
 * ```ts
 * const s: GpuSample = { available: false, reason: 'nvidia-smi not found' };
 * ```
 */
export type GpuSample =
  | { readonly available: true; readonly reading: GpuReading }
  | { readonly available: false; readonly reason: string };

/**
 * Where GPU samples come from. `sample()` never rejects.
 *
 * @example
 * ```ts
 * const fixed: GpuProbe = { sample: async () => ({ available: false, reason: 'no GPU' }) };
 * ```
 */
export interface GpuProbe {
  /** One sample now. */
  sample(): Promise<GpuSample>;
}

/**
 * Parses `nvidia-smi --query-gpu=utilization.gpu,memory.used,memory.total
 * --format=csv,noheader,nounits` (one line per GPU: percent, MiB, MiB); `undefined`
 * when no line parses.
 *
 * @example
 * ```ts
 * parseNvidiaSmi('93, 15000, 16384\n'); // { gpus: 1, utilization: 0.93, ... }
 * ```
 */
export function parseNvidiaSmi(output: string): GpuReading | undefined {
  let gpus = 0;
  let util = 0;
  let used = 0;
  let total = 0;
  for (const line of output.split('\n')) {
    const parts = line.split(',').map((p) => Number(p.trim()));
    if (parts.length < 3 || line.trim() === '') continue;
    const [u, m, t] = parts as [number, number, number];
    if (!Number.isFinite(u) || !Number.isFinite(m) || !Number.isFinite(t)) continue;
    gpus++;
    util += u / 100;
    used += m * 1024 * 1024;
    total += t * 1024 * 1024;
  }
  if (gpus === 0) return undefined;
  return {
    gpus,
    utilization: util / gpus,
    memoryUsedBytes: used,
    memoryTotalBytes: total,
  };
}

/**
 * A {@link GpuProbe} running `nvidia-smi` (or `command`) with a timeout (default 2 s).
 * A missing binary (ENOENT) makes every later sample unavailable without spawning.
 *
 * @example
 * ```ts
 * const probe = nvidiaSmiProbe();
 * const s = await probe.sample();
 * console.log(s.available ? s.reading.utilization : s.reason);
 * ```
 */
export function nvidiaSmiProbe(
  options: { readonly command?: string; readonly timeoutMs?: number } = {},
): GpuProbe {
  const command = options.command ?? 'nvidia-smi';
  const timeout = options.timeoutMs ?? 2000;
  let missing: string | undefined;
  return {
    sample: () =>
      new Promise<GpuSample>((resolve) => {
        if (missing !== undefined) {
          resolve({ available: false, reason: missing });
          return;
        }
        try {
          execFile(
            command,
            [
              '--query-gpu=utilization.gpu,memory.used,memory.total',
              '--format=csv,noheader,nounits',
            ],
            { timeout, windowsHide: true },
            (error, stdout) => {
              if (error !== null) {
                const code = (error as NodeJS.ErrnoException).code;
                if (code === 'ENOENT' || code === 'EACCES') {
                  missing = `${command} not found`;
                  resolve({ available: false, reason: missing });
                } else resolve({ available: false, reason: `${command} failed: ${error.message}` });
                return;
              }
              const reading = parseNvidiaSmi(String(stdout));
              resolve(
                reading === undefined
                  ? { available: false, reason: `${command}: no GPU listed` }
                  : { available: true, reading },
              );
            },
          );
        } catch (error) {
          resolve({
            available: false,
            reason: `${command}: ${error instanceof Error ? error.message : 'spawn failed'}`,
          });
        }
      }),
  };
}
