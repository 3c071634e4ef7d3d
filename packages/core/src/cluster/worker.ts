import { DiagnosticCode } from '../diagnostics/diagnostics.js';
import type { Monitor } from '../monitor.js';
import type { Tags } from '../metrics/types.js';
import { encodeCentroids, PROTOCOL, type WireEntry, type WireMessage } from './protocol.js';

/** How a worker hands a message to IPC: `process.send` in a cluster or forked worker. @internal */
export type SendMessage = (message: WireMessage, done: (error: Error | null) => void) => void;

/** @internal */
export interface WorkerLimits {
  readonly maxMessageBytes: number;
  readonly maxBytesPerInterval: number;
}

/** Counts of a worker's sending, for {@link ClusterStats}. @internal */
export interface WorkerCounts {
  messages: number;
  bytes: number;
  entries: number;
  droppedEntries: number;
  failedMessages: number;
}

/** Unwritten messages beyond which a worker drops (and counts) rather than queue more. */
const MAX_PENDING = 64;

interface SeriesState {
  /** Counter: the total already sent. Gauge: the value already sent. */
  last: number;
  announced: boolean;
}

const tagsText = new WeakMap<Tags, string>();

function keyOf(name: string, component: string, tags: Tags): string {
  let text = tagsText.get(tags);
  if (text === undefined) {
    text = JSON.stringify(tags);
    tagsText.set(tags, text);
  }
  return `${name}\u0000${component}\u0000${text}`;
}

/**
 * The worker side: at each interval, the increase of every counter since the last
 * send, every gauge that changed, and every histogram or timer sub-window that closed
 * since the last send (its digest's centroids, exact count, sum, min, max and errors),
 * chunked into messages of at most `maxMessageBytes` and at most `maxBytesPerInterval`
 * in all. What is over the budget is counted: a counter's or gauge's entry is sent
 * with the next interval instead (its baseline does not move), a sub-window is lost.
 *
 * @internal
 */
export class ClusterWorkerSender {
  readonly counts: WorkerCounts = {
    messages: 0,
    bytes: 0,
    entries: 0,
    droppedEntries: 0,
    failedMessages: 0,
  };
  readonly #monitor: Monitor;
  readonly #send: SendMessage;
  readonly #limits: WorkerLimits;
  readonly #state = new Map<string, SeriesState>();
  #since = -Infinity;
  #seq = 0;
  #done = false;
  /** Messages handed to IPC whose write has not completed: a stuck primary stops us here. */
  #pending = 0;

  constructor(monitor: Monitor, send: SendMessage, limits: WorkerLimits) {
    this.#monitor = monitor;
    this.#send = send;
    this.#limits = limits;
  }

  /**
   * Sends the deltas now; `final` adds the open sub-windows and stops further sends
   * (they would count those values twice). Returns the number of messages sent.
   * Never throws.
   */
  flush(final = false): number {
    if (this.#done) return 0;
    try {
      return this.#flush(final);
    } catch (error) {
      this.#monitor.diagnostics.report(
        DiagnosticCode.INTERNAL_ERROR,
        `cluster worker: ${error instanceof Error ? error.message : 'unknown error'}`,
      );
      return 0;
    }
  }

  #flush(final: boolean): number {
    const monitor = this.#monitor;
    const slotMs = monitor.subWindowSeconds * 1000;
    // Every closed sub-window goes out once: up to the one open now (a sub-window that
    // closes while the series are read waits for the next send), which starts there.
    const until = final ? Infinity : Math.floor(monitor.clock.now() / slotMs) * slotMs;
    const snapshot = monitor.snapshot({
      windows: [],
      digests: false,
      cumulativeQuantiles: false,
      subWindows: { since: this.#since, until, open: final },
    });
    this.#since = until;
    if (final) this.#done = true;
    const { maxMessageBytes, maxBytesPerInterval } = this.#limits;
    const chunks: { entries: WireEntry[]; bytes: number }[] = [];
    let chunk: { entries: WireEntry[]; bytes: number } = { entries: [], bytes: 0 };
    let total = 0;
    let dropped = 0;
    const commit: (() => void)[] = [];
    const add = (entry: WireEntry, bytes: number, onSent?: () => void): boolean => {
      if (bytes > maxMessageBytes || total + bytes > maxBytesPerInterval) {
        dropped++;
        return false;
      }
      if (chunk.bytes + bytes > maxMessageBytes) {
        chunks.push(chunk);
        chunk = { entries: [], bytes: 0 };
      }
      chunk.entries.push(entry);
      chunk.bytes += bytes;
      total += bytes;
      if (onSent !== undefined) commit.push(onSent);
      return true;
    };
    for (const s of snapshot.series) {
      const key = keyOf(s.name, s.component, s.tags);
      let state = this.#state.get(key);
      if (state === undefined) {
        state = { last: s.type === 'gauge' ? NaN : 0, announced: false };
        this.#state.set(key, state);
      }
      const base = 96 + s.name.length + s.component.length + (tagsText.get(s.tags)?.length ?? 0);
      const meta = state.announced
        ? undefined
        : { u: s.unit, d: s.description, extra: s.unit.length + s.description.length };
      const labels = Object.keys(s.labels).length > 0 ? s.labels : undefined;
      const labelBytes = labels === undefined ? 0 : JSON.stringify(labels).length;
      if (s.type === 'counter') {
        const delta = s.total - state.last;
        if (!(delta > 0)) continue;
        const st = state;
        const totalNow = s.total;
        add(
          {
            t: 'c',
            n: s.name,
            c: s.component,
            g: s.tags,
            ...(labels !== undefined && { l: labels }),
            ...(meta !== undefined && { u: meta.u, d: meta.d }),
            v: delta,
          },
          base + labelBytes + (meta?.extra ?? 0),
          () => {
            st.last = totalNow;
            st.announced = true;
          },
        );
      } else if (s.type === 'gauge') {
        if (s.value === state.last) continue;
        const st = state;
        const value = s.value;
        add(
          {
            t: 'g',
            n: s.name,
            c: s.component,
            g: s.tags,
            ...(labels !== undefined && { l: labels }),
            ...(meta !== undefined && { u: meta.u, d: meta.d }),
            v: value,
          },
          base + labelBytes + (meta?.extra ?? 0),
          () => {
            st.last = value;
            st.announced = true;
          },
        );
      } else {
        const st = state;
        let first = true;
        for (const w of s.subWindows ?? []) {
          const centroids = encodeCentroids(w.centroids);
          const withMeta = first && meta !== undefined;
          add(
            {
              t: s.type === 'timer' ? 't' : 'h',
              n: s.name,
              c: s.component,
              g: s.tags,
              ...(labels !== undefined && { l: labels }),
              ...(withMeta && { u: meta.u, d: meta.d }),
              w: [[w.startMs, w.count, w.sum, w.min, w.max, w.errors, centroids]],
            },
            base + labelBytes + (withMeta ? meta.extra : 0) + 120 + centroids.length,
            () => {
              st.announced = true;
            },
          );
          first = false;
        }
      }
    }
    if (chunk.entries.length > 0 || chunks.length === 0) chunks.push(chunk);
    if (dropped > 0) {
      this.counts.droppedEntries += dropped;
      monitor.diagnostics.report(
        DiagnosticCode.EXPORT_DROPPED,
        `cluster worker: ${dropped} entries over maxBytesPerInterval/maxMessageBytes (counters and gauges follow next interval; sub-windows are lost)`,
      );
    }
    for (const f of commit) f();
    let sent = 0;
    for (let i = 0; i < chunks.length; i++) {
      const c = chunks[i]!;
      const message: WireMessage = {
        prsm: PROTOCOL,
        pid: process.pid,
        seq: this.#seq++,
        entries: c.entries,
        ...(final && i === chunks.length - 1 && { final: true }),
      };
      if (this.#pending >= MAX_PENDING) {
        this.#failed(c.entries.length, new Error(`${MAX_PENDING} messages still unwritten`));
        continue;
      }
      try {
        this.#pending++;
        this.#send(message, (error) => {
          this.#pending--;
          if (error !== null) this.#failed(c.entries.length, error);
        });
        sent++;
        this.counts.messages++;
        this.counts.bytes += c.bytes;
        this.counts.entries += c.entries.length;
      } catch (error) {
        this.#pending--;
        this.#failed(c.entries.length, error);
      }
    }
    return sent;
  }

  #failed(entries: number, error: unknown): void {
    this.counts.failedMessages++;
    this.counts.droppedEntries += entries;
    this.#monitor.diagnostics.report(
      DiagnosticCode.EXPORT_DROPPED,
      `cluster worker: a message of ${entries} entries was not delivered: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}
