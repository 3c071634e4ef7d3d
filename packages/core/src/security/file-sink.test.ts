import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';

import type { Monitor } from '../monitor.js';
import { AuditLog, type AuditEntryInput } from './audit.js';
import { type AuditRecord, verifyChain } from './chain.js';
import { JsonlFileSink, type JsonlFileSinkOptions } from './sinks.js';
import { securityMonitor } from './test-support.js';

const dir = mkdtempSync(join(tmpdir(), 'prsm-audit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const monitors: Monitor[] = [];
const logs: AuditLog[] = [];
afterEach(async () => {
  await Promise.all(logs.splice(0).map((l) => l.close()));
  await Promise.all(monitors.splice(0).map((m) => m.shutdown()));
});

let files = 0;
function freshPath(): string {
  return join(dir, `audit-${files++}.jsonl`);
}

function open(path: string, options: Omit<JsonlFileSinkOptions, 'path'> = {}) {
  const s = securityMonitor();
  monitors.push(s.monitor);
  const sink = new JsonlFileSink({ path, ...options });
  const audit = new AuditLog(s.context, { sink });
  logs.push(audit);
  return { ...s, audit, sink };
}

const entry = (i: number): AuditEntryInput => ({
  user_id: `u${i}`,
  action: 'write',
  resource_type: 'files',
  resource_id: `f_${i}`,
  outcome: 'success',
});

function fileLines(path: string): string[] {
  return readFileSync(path, 'utf8').split('\n').filter(Boolean);
}

describe('JsonlFileSink', () => {
  it('writes batches of complete lines; a restart continues the chain', async () => {
    const path = freshPath();
    const first = open(path);
    for (let i = 0; i < 100; i++) first.audit.record(entry(i));
    expect(fileLines(path).length).toBeLessThan(100); // batched: not written yet
    await first.audit.close();
    expect(fileLines(path)).toHaveLength(100);
    expect(first.sink.stats()).toMatchObject({ appended: 100, written: 100, dropped: 0 });

    const second = open(path);
    expect(second.audit.head().nextSeq).toBe(100);
    const r = second.audit.record(entry(100))!;
    expect(r.prev_hash).toBe((JSON.parse(fileLines(path)[99]!) as AuditRecord).hash);
    expect(await second.audit.verify()).toMatchObject({ ok: true, records: 101, lastSeq: 100 });
  });

  it('writes a batch as soon as maxBatchBytes are buffered', async () => {
    const path = freshPath();
    const { audit, sink } = open(path, { maxBatchBytes: 1000, flushIntervalMs: 60_000 });
    for (let i = 0; i < 20; i++) audit.record(entry(i));
    for (let i = 0; i < 10 && sink.stats().written === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(sink.stats().written).toBeGreaterThan(0);
  });

  it('a torn last line (a crash mid-write) is cut off on open, and the chain continues', async () => {
    const path = freshPath();
    const first = open(path);
    for (let i = 0; i < 10; i++) first.audit.record(entry(i));
    await first.audit.close();
    const whole = readFileSync(path, 'utf8');
    // Half of a further record, without its newline.
    appendFileSync(path, '{"action":"write","outcome":"succ');
    const second = open(path);
    expect(second.sink.stats().tornLinesRepaired).toBe(1);
    expect(readFileSync(path, 'utf8')).toBe(whole);
    expect(second.audit.head().nextSeq).toBe(10);
    second.audit.record(entry(10));
    expect(await second.audit.verify()).toMatchObject({ ok: true, records: 11 });
  });

  it('a file of only a torn line opens empty', async () => {
    const path = freshPath();
    writeFileSync(path, '{"seq":0,"ac');
    const { audit, sink } = open(path);
    expect(sink.stats().tornLinesRepaired).toBe(1);
    expect(audit.head()).toMatchObject({ nextSeq: 0 });
    audit.record(entry(0));
    expect(await audit.verify()).toMatchObject({ ok: true, records: 1 });
  });

  it('retention rewrites the file atomically; it verifies, and appends continue', async () => {
    const path = freshPath();
    const { audit, clock } = open(path);
    for (let i = 0; i < 30; i++) audit.record(entry(i));
    clock.advance(91 * 86_400_000);
    for (let i = 30; i < 35; i++) audit.record(entry(i));
    const { removed } = await audit.applyRetention();
    expect(removed).toBe(30);
    audit.record(entry(99));
    expect(await audit.verify()).toMatchObject({ ok: true, firstSeq: 30, records: 7 });
    await audit.close();
    expect(verifyChain(fileLines(path))).toMatchObject({ ok: true, records: 7 });
  });

  it('lines across many append buffers, longer than one, and multi-byte, are stored whole', async () => {
    const path = freshPath();
    const s = securityMonitor();
    monitors.push(s.monitor);
    const sink = new JsonlFileSink({ path, flushIntervalMs: 60_000 });
    const audit = new AuditLog(s.context, { sink, maxMetadataChars: 1_000_000 });
    logs.push(audit);
    const records: AuditRecord[] = [];
    for (let i = 0; i < 600; i++) {
      const pad = i % 100 === 7 ? 'é😀'.repeat(40_000) : 'ü'.repeat((i * 7919) % 900);
      records.push(audit.record({ ...entry(i), metadata: { i, pad } })!);
      // A turn now and then, so batches are written while others are being filled.
      if (i % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await audit.close();
    const lines = fileLines(path);
    expect(lines).toHaveLength(600);
    lines.forEach((line, i) =>
      expect((JSON.parse(line) as AuditRecord).hash).toBe(records[i]!.hash),
    );
    expect(verifyChain(lines)).toMatchObject({ ok: true, records: 600 });
    expect(sink.stats()).toMatchObject({ appended: 600, written: 600, dropped: 0 });
  });

  it('past maxBufferedBytes waiting, records are refused and counted, and the chain has no gap', async () => {
    const path = freshPath();
    const { audit, sink } = open(path, {
      maxBufferedBytes: 2_000,
      maxBatchBytes: 1_000_000,
      flushIntervalMs: 60_000,
    });
    const stored = [];
    for (let i = 0; i < 20; i++) stored.push(audit.record(entry(i)));
    const accepted = stored.filter((r) => r !== undefined).length;
    expect(accepted).toBeGreaterThan(0);
    expect(accepted).toBeLessThan(20);
    expect(sink.stats()).toMatchObject({ appended: 20, dropped: 20 - accepted });
    expect(audit.stats()).toMatchObject({ recorded: accepted, rejected: 20 - accepted });
    expect(await audit.verify()).toMatchObject({ ok: true, records: accepted });
    // Once written, there is room again.
    expect(audit.record(entry(99))).toBeDefined();
    expect(await audit.verify()).toMatchObject({ ok: true, records: accepted + 1 });
  });

  it('bad options throw; a path that cannot be opened throws at construction', () => {
    expect(() => new JsonlFileSink({ path: '' })).toThrow(/path/);
    expect(
      () => new JsonlFileSink({ path: freshPath(), fsync: 'always' as unknown as 'batch' }),
    ).toThrow(/fsync/);
    expect(() => new JsonlFileSink({ path: dir })).toThrow();
  });
});

describe('kill -9 during writes', () => {
  const child = fileURLToPath(new URL('./file-sink.child.ts', import.meta.url));

  async function runAndKill(path: string): Promise<number> {
    const proc = spawn(
      process.execPath,
      ['--conditions=@prsm/source', '--import', 'tsx', child, path],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    proc.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    proc.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    for (let i = 0; i < 400 && !output.includes('ready'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(output).toContain('ready');
    await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 80));
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      proc.once('exit', (_code, signal) => resolve(signal)),
    );
    proc.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const start = /start (\d+)/.exec(output);
    return Number(start?.[1]);
  }

  it('leaves a log that verifies, and each restart continues the chain', async () => {
    const path = freshPath();
    expect(await runAndKill(path)).toBe(0);
    // What the killed process left (a torn last line aside) is a verified prefix.
    const afterFirst = new JsonlFileSink({ path });
    const v1 = verifyChain(afterFirst.read());
    expect(v1).toMatchObject({ ok: true, firstSeq: 0 });
    const n1 = v1.ok ? v1.records : -1;
    expect(n1).toBeGreaterThan(0);
    await afterFirst.close();

    // A second run continues from the last complete record, and is killed too.
    expect(await runAndKill(path)).toBe(n1);
    const { audit } = open(path);
    const v2 = await audit.verify();
    expect(v2).toMatchObject({ ok: true, firstSeq: 0 });
    const n2 = v2.ok ? v2.records : -1;
    expect(n2).toBeGreaterThan(n1);
    expect(audit.head().nextSeq).toBe(n2);
    audit.record(entry(0));
    expect(await audit.verify()).toMatchObject({ ok: true, records: n2 + 1 });
  });
});
