/**
 * Our text format as Prometheus' own linter sees it: `promtool check metrics` (from
 * the Debian package `prometheus`) on the exposition of a realistic monitor must
 * print nothing and exit 0 (lint problems are printed and exit non-zero).
 */
import { ManualClock, type Monitor } from '@prsm/core';
import { afterEach, describe, expect, it } from 'vitest';

import { toPrometheusText } from './text.js';
import {
  binaryAvailable,
  promtoolCheckMetrics,
  realisticMonitor,
} from './test-support-prometheus.js';

const T0 = Date.UTC(2024, 0, 15, 14, 30, 0);

if (binaryAvailable('promtool', 'promtool.test.ts', 'promtool check metrics')) {
  describe('promtool check metrics', () => {
    let monitor: Monitor | undefined;
    afterEach(async () => {
      await monitor?.shutdown();
    });

    it('accepts the exposition of a realistic monitor with no error and no lint warning', () => {
      const clock = new ManualClock(T0);
      monitor = realisticMonitor(clock);
      const text = toPrometheusText(monitor.snapshot());
      // The fixture covers what it claims to.
      expect(text).toContain('prsm_overflow="true"');
      expect(text).toContain('_seconds{');
      expect(text).toContain('batch_items_count');
      const result = promtoolCheckMetrics(text);
      expect(result.output).toBe('');
      expect(result.status).toBe(0);
    });

    it('accepts it with a prefix and the 300 s window after the short window emptied', () => {
      const clock = new ManualClock(T0);
      monitor = realisticMonitor(clock);
      clock.advance(180_000);
      const text = toPrometheusText(monitor.snapshot(), { prefix: 'shop.', windowSeconds: 300 });
      const result = promtoolCheckMetrics(text);
      expect(result.output).toBe('');
      expect(result.status).toBe(0);
      const empty = promtoolCheckMetrics(toPrometheusText(monitor.snapshot()));
      expect(empty.output).toBe('');
      expect(empty.status).toBe(0);
    });

    it('is a real check: promtool does flag a bad exposition', () => {
      const result = promtoolCheckMetrics('# TYPE foo counter\nfoo 1\n');
      expect(result.status).not.toBe(0);
      expect(result.output).not.toBe('');
    });
  });
}
