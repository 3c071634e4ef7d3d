import { describe, expect, it, vi } from 'vitest';

import { DiagnosticCode, Diagnostics, silentLogger } from './diagnostics.js';

function logger() {
  return { warn: vi.fn(), error: vi.fn() };
}

describe('Diagnostics', () => {
  it('counts every report exactly, by code', () => {
    const d = new Diagnostics();
    for (let i = 0; i < 1234; i++) d.report(DiagnosticCode.INVALID_VALUE, 'x');
    d.report(DiagnosticCode.INVALID_TAGS, 'y');
    expect(d.count(DiagnosticCode.INVALID_VALUE)).toBe(1234);
    expect(d.count(DiagnosticCode.INVALID_TAGS)).toBe(1);
    expect(d.count(DiagnosticCode.TYPE_CONFLICT)).toBe(0);
    expect(d.counts()).toEqual({ PRSM_INVALID_VALUE: 1234, PRSM_INVALID_TAGS: 1 });
  });

  it('logs the 1st, 10th, 100th and 1000th occurrence of each code, with the count', () => {
    const log = logger();
    const d = new Diagnostics(log);
    for (let i = 0; i < 1500; i++) d.report(DiagnosticCode.INVALID_VALUE, 'bad value', { i });
    expect(log.warn).toHaveBeenCalledTimes(4);
    const messages = log.warn.mock.calls.map((c) => c[0] as string);
    expect(messages[0]).toBe('[PRSM_INVALID_VALUE] bad value');
    expect(messages[1]).toBe('[PRSM_INVALID_VALUE] bad value (10 times so far)');
    expect(messages[2]).toContain('(100 times so far)');
    expect(messages[3]).toContain('(1000 times so far)');
    // The context of the logged occurrence is passed along.
    expect(log.warn.mock.calls[1]![1]).toEqual({ i: 9 });
    expect(log.error).not.toHaveBeenCalled();
  });

  it('rate-limits each code separately', () => {
    const log = logger();
    const d = new Diagnostics(log);
    for (let i = 0; i < 5; i++) d.report(DiagnosticCode.INVALID_VALUE, 'a');
    for (let i = 0; i < 5; i++) d.report(DiagnosticCode.INVALID_TAGS, 'b');
    expect(log.warn).toHaveBeenCalledTimes(2);
  });

  it('error() counts and logs at error level, with the error in the context', () => {
    const log = logger();
    const d = new Diagnostics(log);
    const boom = new RangeError('boom');
    d.error(DiagnosticCode.INTERNAL_ERROR, boom, { where: 'x' });
    expect(d.count(DiagnosticCode.INTERNAL_ERROR)).toBe(1);
    expect(log.error).toHaveBeenCalledTimes(1);
    expect(log.error.mock.calls[0]![0]).toBe('[PRSM_INTERNAL_ERROR] RangeError: boom');
    expect(log.error.mock.calls[0]![1]).toEqual({ where: 'x', error: boom });
    for (let i = 0; i < 9; i++) d.error(DiagnosticCode.INTERNAL_ERROR, 'text');
    expect(log.error).toHaveBeenCalledTimes(2);
    expect(log.error.mock.calls[1]![0]).toBe('[PRSM_INTERNAL_ERROR] text (10 times so far)');
  });

  it('never throws, whatever the error or the logger', () => {
    const throwing = {
      warn: () => {
        throw new Error('logger down');
      },
      error: () => {
        throw new Error('logger down');
      },
    };
    const d = new Diagnostics(throwing);
    const unprintable = {
      toString() {
        throw new Error('cannot print');
      },
    };
    expect(() => {
      d.report(DiagnosticCode.INVALID_VALUE, 'x');
      d.error(DiagnosticCode.INTERNAL_ERROR, unprintable);
      d.error(DiagnosticCode.INTERNAL_ERROR, null);
      d.error(DiagnosticCode.INTERNAL_ERROR, Object.create(null));
    }).not.toThrow();
    expect(d.count(DiagnosticCode.INTERNAL_ERROR)).toBe(3);
  });

  it('falls back to a printable message for an unprintable error', () => {
    const log = logger();
    const d = new Diagnostics(log);
    d.error(DiagnosticCode.INTERNAL_ERROR, {
      toString() {
        throw new Error('no');
      },
    });
    expect(log.error.mock.calls[0]![0]).toBe('[PRSM_INTERNAL_ERROR] unprintable error');
  });

  it('is silent by default', () => {
    const warn = vi.spyOn(console, 'warn');
    const error = vi.spyOn(console, 'error');
    const d = new Diagnostics();
    d.report(DiagnosticCode.INVALID_VALUE, 'x');
    d.error(DiagnosticCode.INTERNAL_ERROR, new Error('y'));
    expect(warn).not.toHaveBeenCalled();
    expect(error).not.toHaveBeenCalled();
    warn.mockRestore();
    error.mockRestore();
    expect(() => {
      silentLogger.warn('a');
      silentLogger.error('b');
      silentLogger.debug?.('c');
    }).not.toThrow();
  });

  it('has stable, distinct codes', () => {
    const values = Object.values(DiagnosticCode);
    expect(new Set(values).size).toBe(values.length);
    for (const v of values) expect(v).toMatch(/^PRSM_[A-Z_]+$/);
    expect(DiagnosticCode.INVALID_VALUE).toBe('PRSM_INVALID_VALUE');
    expect(DiagnosticCode.SERIES_OVERFLOW).toBe('PRSM_SERIES_OVERFLOW');
  });
});
