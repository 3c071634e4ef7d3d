/**
 * `@audited` under both decorator standards: the fixture (test-support-audited.ts) is
 * compiled here with the TypeScript compiler as TC39 decorators and as legacy
 * `experimentalDecorators` (type-checked in that mode too), then loaded.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import type { Monitor } from '../monitor.js';
import { AuditLog } from './audit.js';
import { audited, setDefaultAuditLog, withAuditContext } from './audited.js';
import type { AuditRecord } from './chain.js';
import { securityMonitor } from './test-support.js';
import type * as Fixture from './test-support-audited.js';

const MODES = ['tc39', 'legacy'] as const;
type Mode = (typeof MODES)[number];

const fixturePath = fileURLToPath(new URL('./test-support-audited.ts', import.meta.url));
const out = mkdtempSync(join(tmpdir(), 'prsm-audited-'));
const fixtures = new Map<Mode, typeof Fixture>();

function compilerOptions(mode: Mode): ts.CompilerOptions {
  return {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    strict: true,
    experimentalDecorators: mode === 'legacy',
    skipLibCheck: true,
    types: ['node'],
    noEmit: true,
  };
}

beforeAll(async () => {
  const source = readFileSync(fixturePath, 'utf8');
  // TC39 mode is type-checked by the package's own build (tsc -b); legacy mode here.
  const program = ts.createProgram([fixturePath], compilerOptions('legacy'));
  const errors = ts
    .getPreEmitDiagnostics(program, program.getSourceFile(fixturePath))
    .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  expect(errors).toEqual([]);
  for (const mode of MODES) {
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: { ...compilerOptions(mode), noEmit: false },
      fileName: fixturePath,
    });
    const file = join(out, `fixture-${mode}.mjs`);
    writeFileSync(file, outputText);
    fixtures.set(
      mode,
      (await import(/* @vite-ignore */ pathToFileURL(file).href)) as typeof Fixture,
    );
  }
}, 30_000);
afterAll(() => rmSync(out, { recursive: true, force: true }));

const monitors: Monitor[] = [];
afterEach(async () => {
  setDefaultAuditLog(undefined);
  await Promise.all(monitors.splice(0).map((m) => m.shutdown()));
});

function setup(mode: Mode) {
  const s = securityMonitor();
  monitors.push(s.monitor);
  const log = new AuditLog(s.context);
  const fixture = fixtures.get(mode)!;
  const Jobs = fixture.makeJobs(audited, log);
  const records = (): AuditRecord[] =>
    [...log.sink.read()].map((l) => JSON.parse(l) as AuditRecord);
  return { ...s, log, Jobs, fixture, records };
}

const CONTEXT = {
  user_id: 'user_123',
  ip_address: '192.168.1.100',
  user_agent: 'PRSM-Client/1.0',
  session_id: 'session_uuid',
  request_id: 'req_uuid',
};

describe.each(MODES)('@audited (%s decorators)', (mode) => {
  it('a sync success: the same value, this as bound, and a complete success entry', () => {
    const { Jobs, records } = setup(mode);
    const jobs = new Jobs();
    expect(withAuditContext(CONTEXT, () => jobs.create('a'))).toBe('job_a');
    expect(records()).toMatchObject([
      {
        ...CONTEXT,
        action: 'create_job',
        resource_type: 'jobs',
        resource_id: 'job_a',
        outcome: 'success',
        compliance_tags: ['SOC2'],
        seq: 0,
      },
    ]);
    expect(Jobs.prototype.create.name).toBe('create');
    expect(Jobs.prototype.create.length).toBe(1);
  });

  it('a sync throw: the same error object, and a failure entry naming its type', () => {
    const { Jobs, fixture, records } = setup(mode);
    let thrown: unknown;
    try {
      withAuditContext(CONTEXT, () => new Jobs().remove('j_9'));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(fixture.NotFound);
    expect((thrown as Error).message).toBe('j_9');
    expect(records()).toMatchObject([
      {
        action: 'delete_job',
        resource_id: 'j_9',
        outcome: 'failure',
        metadata: { error: 'NotFound' },
      },
    ]);
  });

  it('async: resolves to the same value with the same this; a rejection is a failure entry', async () => {
    const { Jobs, fixture, records, log } = setup(mode);
    const jobs = new Jobs();
    const loaded = await withAuditContext(CONTEXT, () => jobs.load('j_1'));
    expect(loaded.self).toBe(jobs);
    const failing = withAuditContext(CONTEXT, () => jobs.loadMissing('j_2'));
    await expect(failing).rejects.toBeInstanceOf(fixture.NotFound);
    await Promise.resolve();
    expect(records().map((r) => [r.action, r.outcome, r.user_id])).toEqual([
      ['load_job', 'success', 'user_123'],
      ['load_missing', 'failure', 'user_123'],
    ]);
    expect(await log.verify()).toMatchObject({ ok: true, records: 2 });
  });

  it('without a user in context the entry is stored incomplete, never refused', () => {
    const { Jobs, records, log } = setup(mode);
    expect(new Jobs().create('b')).toBe('job_b');
    expect(records()[0]).not.toHaveProperty('user_id');
    expect(log.stats()).toMatchObject({ recorded: 1, complete: 0, completeness: 0 });
  });

  it('a static method; the default log; no log at all records nothing', () => {
    const { Jobs, log, records } = setup(mode);
    expect(Jobs.ping(1, 2)).toBe('pong 3'); // no default log yet: just the call
    expect(records()).toHaveLength(0);
    setDefaultAuditLog(log);
    expect(withAuditContext(CONTEXT, () => Jobs.ping(2, 2))).toBe('pong 4');
    expect(records()).toMatchObject([
      { action: 'ping', resource_type: 'health', outcome: 'success' },
    ]);
  });

  it('decorating a field throws a TypeError when the class is defined', () => {
    const { fixture } = setup(mode);
    expect(() => fixture.makeMisuse(audited)).toThrow(TypeError);
  });
});

describe('audited options', () => {
  it('bad options throw at decoration time', () => {
    expect(() => audited('', { resourceType: 'x' })).toThrow(/action/);
    expect(() => audited('a', { resourceType: '' })).toThrow(/resourceType/);
    expect(() =>
      audited('a', { resourceType: 'x', resourceId: 'id' as unknown as () => string }),
    ).toThrow(/resourceId/);
  });
});
