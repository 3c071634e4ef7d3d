/**
 * Where audit records are stored: the {@link AuditSink} interface, an append-only
 * JSONL file ({@link JsonlFileSink}, the default for services) and a bounded
 * in-memory store ({@link MemoryAuditSink}, for tests and short-lived tools).
 */
import {
  closeSync,
  fdatasync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readSync,
  renameSync,
  writeSync,
  writev,
} from 'node:fs';
import { dirname } from 'node:path';
import type { Diagnostics } from '../diagnostics/diagnostics.js';
import { DiagnosticCode } from '../diagnostics/diagnostics.js';
import {
  type AuditRecord,
  type ChainAnchor,
  SEAL_EXTRA_BYTES,
  type SealedLine,
  sealInto,
} from './chain.js';

/**
 * What a sink is given when an `AuditLog` adopts it: where to report failures.
 *
 * @example
 * ```ts
 * sink.attach?.({ diagnostics: monitor.diagnostics });
 * ```
 */
export interface AuditSinkContext {
  readonly diagnostics: Diagnostics;
}

/**
 * A sink's counters.
 *
 * @example
 * ```ts
 * const { written, dropped } = sink.stats();
 * ```
 */
export interface AuditSinkStats {
  /** Records handed to `append`. */
  readonly appended: number;
  /** Records durably written (file) or stored (memory). */
  readonly written: number;
  /** Records dropped (a full buffer after write failures; memory eviction). */
  readonly dropped: number;
  /** Torn last lines cut off when the file was opened (a crash mid-write). */
  readonly tornLinesRepaired: number;
  /** Write or sync failures. */
  readonly failures: number;
}

/**
 * Where an `AuditLog` stores its records. The log assigns `seq` and hashes; the sink
 * stores lines in order and hands them back. `append` must never throw (report to
 * the diagnostics given in `attach` instead). A sink for a remote store (the
 * server's SQLite through the REST exporter) implements the same five calls: it
 * must keep lines in `seq` order, refuse a duplicate `seq`, and answer `head()`.
 *
 * @example
 * ```ts
 * class ArraySink implements AuditSink {
 *   readonly name = 'array';
 *   readonly lines: string[] = [];
 *   head(): AuditRecord | undefined {
 *     const last = this.lines.at(-1);
 *     return last === undefined ? undefined : (JSON.parse(last) as AuditRecord);
 *   }
 *   append(line: string): boolean { this.lines.push(line); return true; }
 *   async flush(): Promise<void> {}
 *   read(): Iterable<string> { return this.lines; }
 *   async removeBefore(seq: number): Promise<number> { ... }
 *   async close(): Promise<void> {}
 *   stats(): AuditSinkStats { ... }
 * }
 * ```
 */
export interface AuditSink {
  /** For diagnostics. */
  readonly name: string;
  /** Called once by the log that adopts the sink. */
  attach?(context: AuditSinkContext): void;
  /** The last stored record (the chain continues from it), or `undefined` when empty. */
  head(): AuditRecord | undefined;
  /**
   * Stores one line (a sealed record, no newline); false when it cannot take it (a
   * full buffer, closed), and the log then leaves the record out of the chain.
   * Never throws.
   */
  append(line: string): boolean;
  /**
   * Optional, for speed: seals and stores a record in one step. `canonical` is the
   * record's canonical JSON without `hash` (see `canonicalJson`); the sink stores the
   * line `sealRecord` would make of it (encoding the text once and hashing those
   * bytes) and returns the hash, or `undefined` when it cannot take it (as `append`
   * returning false). Never throws.
   */
  appendCanonical?(canonical: string): string | undefined;
  /** Resolves once every appended line is stored. Never rejects. */
  flush(): Promise<void>;
  /** The stored lines, oldest first (what was flushed). */
  read(): Iterable<string>;
  /**
   * A trusted start for verification when the sink itself dropped a prefix (the
   * memory sink's eviction); `undefined` otherwise.
   */
  anchor?(): ChainAnchor | undefined;
  /** Removes the records with `seq` below `seq` (a retention cut); resolves to how many. */
  removeBefore(seq: number): Promise<number>;
  /** Flushes and releases the sink. Never rejects. */
  close(): Promise<void>;
  /** Counters. */
  stats(): AuditSinkStats;
}

function messageOf(error: unknown): string {
  try {
    return error instanceof Error ? error.message : String(error);
  } catch {
    return 'unknown error';
  }
}

/** The `seq` of a stored line, read without parsing the whole line. */
function seqOf(line: string): number | undefined {
  const m = /"seq":(\d+)/.exec(line);
  return m === null ? undefined : Number(m[1]);
}

function parseRecord(line: string): AuditRecord | undefined {
  try {
    const r = JSON.parse(line) as unknown;
    if (r === null || typeof r !== 'object') return undefined;
    const rec = r as AuditRecord;
    return typeof rec.seq === 'number' && typeof rec.hash === 'string' ? rec : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Options of {@link MemoryAuditSink}.
 *
 * @example
 * ```ts
 * const sink = new MemoryAuditSink({ maxRecords: 50_000 });
 * ```
 */
export interface MemoryAuditSinkOptions {
  /** Records kept; the oldest is evicted (and counted) past it. Default 10000. */
  readonly maxRecords?: number;
}

/**
 * An in-memory sink, bounded: past `maxRecords` the oldest record is evicted and
 * counted, and verification starts from the evicted record's hash (kept in memory as
 * a trusted anchor). Nothing survives the process.
 *
 * @example
 * ```ts
 * const audit = new AuditLog(context, { sink: new MemoryAuditSink({ maxRecords: 1000 }) });
 * ```
 */
export class MemoryAuditSink implements AuditSink {
  readonly name = 'memory';
  readonly #max: number;
  #lines: string[] = [];
  #start = 0;
  #evicted: string | undefined;
  #appended = 0;
  #dropped = 0;

  constructor(options: MemoryAuditSinkOptions = {}) {
    const max = options.maxRecords ?? 10_000;
    if (!Number.isInteger(max) || max < 1) {
      throw new TypeError('memory sink: maxRecords must be an integer >= 1');
    }
    this.#max = max;
  }

  head(): AuditRecord | undefined {
    const last = this.#lines.length > this.#start ? this.#lines[this.#lines.length - 1] : undefined;
    return last === undefined ? undefined : parseRecord(last);
  }

  append(line: string): boolean {
    this.#appended++;
    if (this.#lines.length - this.#start >= this.#max) {
      // Parsed only when asked for (anchor()): evicting stays cheap.
      this.#evicted = this.#lines[this.#start];
      this.#start++;
      this.#dropped++;
      if (this.#start > 1024 && this.#start * 2 > this.#lines.length) {
        this.#lines = this.#lines.slice(this.#start);
        this.#start = 0;
      }
    }
    this.#lines.push(line);
    return true;
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  read(): Iterable<string> {
    return this.#lines.slice(this.#start);
  }

  anchor(): ChainAnchor | undefined {
    const evicted = this.#evicted === undefined ? undefined : parseRecord(this.#evicted);
    return evicted === undefined ? undefined : { seq: evicted.seq + 1, prevHash: evicted.hash };
  }

  removeBefore(seq: number): Promise<number> {
    let removed = 0;
    while (this.#start < this.#lines.length) {
      const s = seqOf(this.#lines[this.#start]!);
      if (s === undefined || s >= seq) break;
      this.#evicted = this.#lines[this.#start];
      this.#start++;
      removed++;
    }
    return Promise.resolve(removed);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  stats(): AuditSinkStats {
    return {
      appended: this.#appended,
      written: this.#appended,
      dropped: this.#dropped,
      tornLinesRepaired: 0,
      failures: 0,
    };
  }
}

/**
 * Options of {@link JsonlFileSink}.
 *
 * @example
 * ```ts
 * const sink = new JsonlFileSink({ path: '/var/log/app/audit.jsonl', fsync: 'batch', flushIntervalMs: 200 });
 * ```
 */
export interface JsonlFileSinkOptions {
  /** The file; created when missing (its directory must exist). */
  readonly path: string;
  /**
   * When written lines are forced to disk: `'batch'` (default) calls `fdatasync`
   * after every batch write, so a power loss loses at most the batch being written
   * and what was still buffered; `'none'` leaves it to the OS (a process crash still
   * loses only what was buffered, as the kernel holds written pages).
   */
  readonly fsync?: 'batch' | 'none';
  /** How long an appended line may wait in memory before its batch is written (ms). Default 100. */
  readonly flushIntervalMs?: number;
  /** A batch is written as soon as this many bytes are buffered. Default 256 KiB. */
  readonly maxBatchBytes?: number;
  /**
   * Bytes kept in memory while writes fail (or lag; at most twice this while a
   * batch is being written); further records are refused
   * (`append` returns false: the log leaves them out of the chain, counts and
   * reports them). Default 16 MiB.
   */
  readonly maxBufferedBytes?: number;
}

const CHUNK = 1 << 20;
/** The buffers appended lines are encoded into (a longer line gets its own). */
const APPEND_CHUNK = 64 * 1024;
/** Append buffers kept for reuse once written. */
const SPARE_CHUNKS = 16;

/**
 * An append-only JSONL file of audit records, one sealed record a line, written in
 * batches by one writer at a time.
 *
 * Crash safety: lines are written whole, in order, ending with a newline; a process
 * killed mid-write leaves at most one torn last line (no newline). Opening the file
 * cuts a torn last line off (counted in `tornLinesRepaired`), so what remains is a
 * prefix of the chain that verifies, and the log continues the chain from its last
 * complete record. Durability: see `fsync`. One process writes a file at a time.
 *
 * @example
 * ```ts
 * import { AuditLog, JsonlFileSink } from '@prsm/core';
 *
 * const audit = new AuditLog(context, { sink: new JsonlFileSink({ path: 'audit.jsonl' }) });
 * audit.record({ user_id: 'u1', action: 'login', resource_type: 'session', outcome: 'success' });
 * await audit.close();
 * ```
 */
export class JsonlFileSink implements AuditSink {
  readonly name: string;
  readonly path: string;
  readonly #fsync: boolean;
  readonly #intervalMs: number;
  readonly #maxBatch: number;
  readonly #maxBuffered: number;
  #fd: number;
  /** Bytes of the file known to hold complete lines. */
  #size: number;
  #head: AuditRecord | undefined;
  /**
   * Lines waiting to be written, encoded as they are appended (UTF-8, newline
   * included) into long-lived buffers, so they live off the JS heap: filled buffers
   * in order, then the one being filled.
   */
  #chunks: Buffer[] = [];
  #current: Buffer | undefined;
  #used = 0;
  readonly #spare: Buffer[] = [];
  #pendingBytes = 0;
  #pendingLines = 0;
  /** Where the last line appended lies (the head once its batch is written). */
  #lastBuffer: Buffer | undefined;
  #lastStart = 0;
  #lastEnd = 0;
  readonly #sealed: SealedLine = { hash: '', end: 0 };
  #writing: Promise<void> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  #diagnostics: Diagnostics | undefined;
  #appended = 0;
  #written = 0;
  #dropped = 0;
  #torn = 0;
  #failures = 0;

  /** Opens (or creates) the file and repairs a torn last line. Throws when it cannot be opened. */
  constructor(options: JsonlFileSinkOptions) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError('file sink options must be an object');
    }
    if (typeof options.path !== 'string' || options.path === '') {
      throw new TypeError('file sink: path must be a non-empty string');
    }
    const fsync = options.fsync ?? 'batch';
    if (fsync !== 'batch' && fsync !== 'none') {
      throw new TypeError("file sink: fsync must be 'batch' or 'none'");
    }
    const positive = (name: string, value: number | undefined, fallback: number): number => {
      const v = value ?? fallback;
      if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v)) {
        throw new TypeError(`file sink: ${name} must be a finite number >= 0`);
      }
      return v;
    };
    this.path = options.path;
    this.name = `file:${options.path}`;
    this.#fsync = fsync === 'batch';
    this.#intervalMs = positive('flushIntervalMs', options.flushIntervalMs, 100);
    this.#maxBatch = positive('maxBatchBytes', options.maxBatchBytes, 256 * 1024);
    this.#maxBuffered = positive('maxBufferedBytes', options.maxBufferedBytes, 16 * 1024 * 1024);
    this.#fd = openSync(this.path, 'a+');
    this.#size = fstatSync(this.#fd).size;
    this.#head = this.#recoverTail();
  }

  attach(context: AuditSinkContext): void {
    this.#diagnostics = context.diagnostics;
  }

  head(): AuditRecord | undefined {
    return this.#head;
  }

  append(line: string): boolean {
    const buffer = this.#room(line, line.length * 3 + 1);
    if (buffer === undefined) return false;
    const start = this.#used;
    const end = start + buffer.write(line, start);
    this.#appended1(buffer, start, end);
    return true;
  }

  appendCanonical(canonical: string): string | undefined {
    const buffer = this.#room(canonical, canonical.length * 3 + SEAL_EXTRA_BYTES + 1);
    if (buffer === undefined) return undefined;
    const start = this.#used;
    const sealed = this.#sealed;
    sealInto(buffer, start, canonical, sealed);
    this.#appended1(buffer, start, sealed.end);
    return sealed.hash;
  }

  /** Counts an append; the buffer with room for `most` bytes, or undefined when refused. */
  #room(text: string, most: number): Buffer | undefined {
    this.#appended++;
    if (this.#closed) {
      this.#drop('the file sink is closed');
      return undefined;
    }
    // UTF-8 takes at most 3 bytes per UTF-16 unit; the exact length only near the bound.
    if (
      this.#pendingBytes + most > this.#maxBuffered &&
      this.#pendingBytes + Buffer.byteLength(text) + most - text.length * 3 > this.#maxBuffered
    ) {
      this.#drop(`more than ${this.#maxBuffered} bytes waiting to be written`);
      return undefined;
    }
    const buffer = this.#current;
    return buffer === undefined || buffer.length - this.#used < most
      ? this.#nextBuffer(most)
      : buffer;
  }

  /** A line was written at `start..end` of `buffer`: ends it, and starts its batch. */
  #appended1(buffer: Buffer, start: number, end: number): void {
    buffer[end] = 10;
    this.#used = end + 1;
    this.#pendingBytes += end + 1 - start;
    this.#pendingLines++;
    this.#lastBuffer = buffer;
    this.#lastStart = start;
    this.#lastEnd = end;
    if (this.#pendingBytes >= this.#maxBatch) this.#kick();
    else if (this.#timer === undefined && this.#writing === undefined) {
      this.#timer = setTimeout(() => this.#kick(), this.#intervalMs);
      this.#timer.unref();
    }
  }

  async flush(): Promise<void> {
    while (this.#pendingLines > 0 || this.#writing !== undefined) {
      const before = this.#written;
      this.#kick();
      await this.#writing;
      // A failing disk: stop waiting once a round made no progress.
      if (this.#written === before && this.#pendingLines > 0) return;
    }
  }

  *read(): Iterable<string> {
    let fd: number;
    try {
      fd = openSync(this.path, 'r');
    } catch (error) {
      this.#report(`read: ${messageOf(error)}`);
      return;
    }
    try {
      const buffer = Buffer.allocUnsafe(CHUNK);
      let carry = '';
      let position = 0;
      for (;;) {
        const n = readSync(fd, buffer, 0, CHUNK, position);
        if (n === 0) break;
        position += n;
        const text = carry + buffer.toString('utf8', 0, n);
        const lines = text.split('\n');
        carry = lines.pop()!;
        for (const line of lines) if (line !== '') yield line;
      }
      // A line still being written (no newline yet) is not part of the log.
    } finally {
      closeSync(fd);
    }
  }

  removeBefore(seq: number): Promise<number> {
    return this.#exclusive(() => {
      const tmp = `${this.path}.tmp`;
      const out = openSync(tmp, 'w');
      let removed = 0;
      let kept = 0;
      try {
        let batch = '';
        for (const line of this.read()) {
          const s = seqOf(line);
          if (s !== undefined && s < seq) {
            removed++;
            continue;
          }
          batch += `${line}\n`;
          kept += Buffer.byteLength(line) + 1;
          if (batch.length >= CHUNK) {
            writeSync(out, batch);
            batch = '';
          }
        }
        if (batch !== '') writeSync(out, batch);
        fsyncSync(out);
      } finally {
        closeSync(out);
      }
      // The new file replaces the old one whole (rename is atomic), then the append
      // descriptor follows it.
      renameSync(tmp, this.path);
      this.#syncDirectory();
      closeSync(this.#fd);
      this.#fd = openSync(this.path, 'a+');
      this.#size = kept;
      return removed;
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    try {
      if (this.#fsync) fsyncSync(this.#fd);
      closeSync(this.#fd);
    } catch (error) {
      this.#report(`close: ${messageOf(error)}`);
    }
  }

  stats(): AuditSinkStats {
    return {
      appended: this.#appended,
      written: this.#written,
      dropped: this.#dropped,
      tornLinesRepaired: this.#torn,
      failures: this.#failures,
    };
  }

  /** Cuts a torn last line off; returns the last complete record. */
  #recoverTail(): AuditRecord | undefined {
    if (this.#size === 0) return undefined;
    let tail = '';
    // Read backwards until the last two newlines (or the start) are in view.
    let start = this.#size;
    while (start > 0) {
      const from = Math.max(0, start - CHUNK);
      const buffer = Buffer.alloc(start - from);
      readSync(this.#fd, buffer, 0, buffer.length, from);
      tail = buffer.toString('utf8') + tail;
      start = from;
      const last = tail.lastIndexOf('\n');
      if (last >= 0 && tail.lastIndexOf('\n', last - 1) >= 0) break;
    }
    const lastNewline = tail.lastIndexOf('\n');
    if (lastNewline !== tail.length - 1) {
      // A torn line: the process died mid-write. Cut it off.
      const keep = lastNewline + 1;
      const keepBytes = start + Buffer.byteLength(tail.slice(0, keep));
      ftruncateSync(this.#fd, keepBytes);
      if (this.#fsync) fsyncSync(this.#fd);
      this.#torn++;
      this.#size = keepBytes;
      tail = tail.slice(0, keep);
    }
    const lines = tail.split('\n').filter((l) => l !== '');
    for (let i = lines.length - 1; i >= 0; i--) {
      const record = parseRecord(lines[i]!);
      if (record !== undefined) return record;
    }
    return undefined;
  }

  #syncDirectory(): void {
    try {
      const dir = openSync(dirname(this.path), 'r');
      try {
        fsyncSync(dir);
      } finally {
        closeSync(dir);
      }
    } catch {
      // Not every platform can fsync a directory; the rename itself is atomic.
    }
  }

  #kick(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#writing !== undefined || this.#pendingLines === 0) return;
    this.#writing = this.#drain().finally(() => {
      this.#writing = undefined;
      if (this.#pendingLines > 0 && !this.#closed && this.#failures === 0) this.#kick();
    });
  }

  /** Runs `work` when no batch is being written; further batches wait for it. */
  async #exclusive<T>(work: () => T): Promise<T> {
    while (this.#writing !== undefined) await this.#writing;
    let release!: () => void;
    this.#writing = new Promise<void>((resolve) => (release = resolve));
    try {
      return work();
    } finally {
      this.#writing = undefined;
      release();
      if (this.#pendingLines > 0) this.#kick();
    }
  }

  /** Seals the buffer being filled and starts another of at least `bytes`. */
  #nextBuffer(bytes: number): Buffer {
    const current = this.#current;
    if (current !== undefined && this.#used > 0) {
      this.#chunks.push(current.subarray(0, this.#used));
    } else if (current !== undefined) this.#recycle(current);
    const next =
      bytes > APPEND_CHUNK
        ? Buffer.allocUnsafeSlow(bytes)
        : (this.#spare.pop() ?? Buffer.allocUnsafeSlow(APPEND_CHUNK));
    this.#current = next;
    this.#used = 0;
    return next;
  }

  /** Takes every line waiting (the buffer being filled is sealed: it is in flight now). */
  #take(): Buffer[] {
    const current = this.#current;
    if (current !== undefined && this.#used > 0) {
      this.#chunks.push(current.subarray(0, this.#used));
      this.#current = undefined;
      this.#used = 0;
    }
    const chunks = this.#chunks;
    this.#chunks = [];
    return chunks;
  }

  /** Keeps a written buffer of the standard size for reuse. */
  #recycle(chunk: Buffer): void {
    if (chunk.buffer.byteLength === APPEND_CHUNK && this.#spare.length < SPARE_CHUNKS) {
      this.#spare.push(Buffer.from(chunk.buffer, 0, APPEND_CHUNK));
    }
  }

  async #drain(): Promise<void> {
    while (this.#pendingLines > 0) {
      const lines = this.#pendingLines;
      const bytes = this.#pendingBytes;
      // The batch's last line, read before its buffer is reused.
      const lastBuffer = this.#lastBuffer;
      const lastStart = this.#lastStart;
      const lastEnd = this.#lastEnd;
      const chunks = this.#take();
      this.#pendingLines = 0;
      this.#pendingBytes = 0;
      try {
        await writeAll(this.#fd, chunks, bytes);
        if (this.#fsync) await datasyncAsync(this.#fd);
        this.#size += bytes;
        this.#written += lines;
        const head =
          lastBuffer === undefined
            ? undefined
            : parseRecord(lastBuffer.toString('utf8', lastStart, lastEnd));
        if (head !== undefined) this.#head = head;
        this.#failures = 0;
        for (const chunk of chunks) this.#recycle(chunk);
      } catch (error) {
        this.#failures++;
        this.#report(`write to ${this.path}: ${messageOf(error)}`);
        // Undo a partial write, so a retry does not leave half a line mid-file.
        try {
          ftruncateSync(this.#fd, this.#size);
        } catch {
          // The next open repairs the tail.
        }
        // Accepted records are never dropped (that would break the chain): they wait,
        // first in line, and new ones are refused while the buffer is over its bound.
        this.#chunks = chunks.concat(this.#chunks);
        this.#pendingLines += lines;
        this.#pendingBytes += bytes;
        // Retry later, not in a tight loop.
        if (!this.#closed && this.#timer === undefined) {
          this.#timer = setTimeout(
            () => {
              this.#failures = 0;
              this.#kick();
            },
            Math.max(this.#intervalMs, 1000),
          );
          this.#timer.unref();
        }
        return;
      }
    }
  }

  #drop(why: string): void {
    this.#dropped++;
    this.#report(`audit record dropped: ${why}`);
  }

  #report(message: string): void {
    this.#diagnostics?.report(DiagnosticCode.INTERNAL_ERROR, `audit ${this.name}: ${message}`);
  }
}

function writevAsync(fd: number, chunks: readonly Buffer[]): Promise<number> {
  return new Promise((resolve, reject) => {
    writev(fd, chunks, (error, written) => {
      if (error === null) resolve(written);
      else reject(error);
    });
  });
}

/** Writes the chunks in order, whole (a short write continues where it stopped). */
async function writeAll(fd: number, chunks: Buffer[], bytes: number): Promise<void> {
  let rest = chunks;
  let left = bytes;
  while (left > 0) {
    // At most 1024 buffers a call (IOV_MAX on Linux).
    let n = await writevAsync(fd, rest.length > 1024 ? rest.slice(0, 1024) : rest);
    if (n <= 0) throw new Error('the write made no progress');
    left -= n;
    let i = 0;
    while (i < rest.length && n >= rest[i]!.length) n -= rest[i++]!.length;
    rest = rest.slice(i);
    if (n > 0) rest[0] = rest[0]!.subarray(n);
  }
}

function datasyncAsync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => {
    fdatasync(fd, (error) => {
      if (error === null) resolve();
      else reject(error);
    });
  });
}
