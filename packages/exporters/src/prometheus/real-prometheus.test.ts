/**
 * A real Prometheus (Debian package `prometheus`, 2.42) scrapes our servers every
 * second: one negotiating OpenMetrics (what Prometheus asks for), one held to the
 * text format. The values it stores must be the monitor's, and the OpenMetrics
 * exemplars must reach its exemplar storage.
 */
import { ManualClock, type HistogramSnapshot, type Monitor } from '@prsm/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startPrometheusServer, type PrometheusServer } from './handler.js';
import {
  binaryAvailable,
  realisticMonitor,
  startPrometheus,
  waitFor,
  type RunningPrometheus,
} from './test-support-prometheus.js';

const T0 = Date.UTC(2024, 0, 15, 14, 30, 0);

interface VectorResult {
  metric: Record<string, string>;
  value: [number, string];
}

if (binaryAvailable('prometheus', 'real-prometheus.test.ts', 'a real Prometheus scraping us')) {
  describe('a real Prometheus scraping us', () => {
    let monitor: Monitor;
    let openMetricsServer: PrometheusServer;
    let textServer: PrometheusServer;
    let prometheus: RunningPrometheus | undefined;

    beforeAll(async () => {
      monitor = realisticMonitor(new ManualClock(T0));
      openMetricsServer = await startPrometheusServer({ monitor, port: 0 });
      textServer = await startPrometheusServer({ monitor, port: 0, openMetrics: false });
      const target = (url: string): { target: string; path: string } => {
        const parsed = new URL(url);
        return { target: parsed.host, path: parsed.pathname };
      };
      prometheus = await startPrometheus([
        { name: 'om', ...target(openMetricsServer.url) },
        { name: 'text', ...target(textServer.url) },
      ]);
    });

    afterAll(async () => {
      await prometheus?.stop();
      await openMetricsServer?.close();
      await textServer?.close();
      await monitor?.shutdown();
    });

    async function query(promql: string): Promise<VectorResult[]> {
      const response = await fetch(
        `${prometheus!.url}/api/v1/query?query=${encodeURIComponent(promql)}`,
      );
      const body = (await response.json()) as { status: string; data: { result: VectorResult[] } };
      expect(body.status).toBe('success');
      return body.data.result;
    }

    /** One value, waited for until the first scrapes have landed. */
    async function valueOf(promql: string): Promise<number> {
      const result = await waitFor(
        `Prometheus to have ${promql}`,
        async () => {
          const r = await query(promql);
          return r.length > 0 ? r : undefined;
        },
        12_000,
      ).catch((error: unknown) => {
        throw new Error(`${String(error)}\n--- prometheus output ---\n${prometheus!.output()}`);
      });
      expect(result).toHaveLength(1);
      return Number(result[0]!.value[1]);
    }

    it('scrapes both formats cleanly', async () => {
      for (const job of ['om', 'text']) {
        expect(await valueOf(`up{job="${job}"}`)).toBe(1);
      }
      const targets = (await (await fetch(`${prometheus!.url}/api/v1/targets`)).json()) as {
        data: { activeTargets: { labels: { job: string }; lastError: string; health: string }[] };
      };
      for (const t of targets.data.activeTargets) {
        if (t.health === 'unknown') continue; // not scraped yet
        expect({ job: t.labels.job, lastError: t.lastError }).toEqual({
          job: t.labels.job,
          lastError: '',
        });
      }
    });

    it('stores what the monitor reports: a counter, a gauge, a summary quantile and _count', async () => {
      const snap = monitor.snapshot();
      const timer = snap.series.find(
        (s): s is HistogramSnapshot =>
          s.name === 'http.server.request.duration' && s.tags['route'] === '/users/:id',
      )!;
      const p99 = timer.windows[0]!.quantiles.find((q) => q.quantile === 0.99)!.value;
      const requests = snap.series.find(
        (s) => s.name === 'http.requests' && s.tags['status'] === '500',
      );
      const depth = snap.series.find((s) => s.name === 'queue.depth');
      if (requests?.type !== 'counter' || depth?.type !== 'gauge')
        throw new Error('fixture changed');

      for (const job of ['om', 'text']) {
        const sel = `job="${job}",component="api_gateway"`;
        expect(await valueOf(`http_requests_total{${sel},status="500"}`)).toBe(requests.total);
        expect(await valueOf(`queue_depth{${sel}}`)).toBe(depth.value);
        expect(
          await valueOf(
            `http_server_request_duration_seconds{${sel},route="/users/:id",quantile="0.99"}`,
          ),
        ).toBe(p99 / 1000);
        expect(
          await valueOf(`http_server_request_duration_seconds_count{${sel},route="/users/:id"}`),
        ).toBe(timer.cumulative.count);
        expect(
          await valueOf(`http_server_request_duration_seconds_sum{${sel},route="/users/:id"}`),
        ).toBeCloseTo(timer.cumulative.sum / 1000, 9);
        // The overflow series keeps its label.
        expect(await valueOf(`count(http_requests_total{job="${job}",prsm_overflow="true"})`)).toBe(
          1,
        );
      }
    });

    it('keeps the OpenMetrics exemplar with its trace id', async () => {
      const timer = monitor
        .snapshot()
        .series.find(
          (s): s is HistogramSnapshot =>
            s.name === 'http.server.request.duration' && s.tags['route'] === '/users/:id',
        )!;
      const slowest = timer.windows[0]!.exemplars[0]!;
      const now = Date.now() / 1000;
      const promql = 'http_server_request_duration_seconds_observations_total{route="/users/:id"}';
      const exemplars = await waitFor(
        'the exemplar in Prometheus',
        async () => {
          const response = await fetch(
            `${prometheus!.url}/api/v1/query_exemplars?query=${encodeURIComponent(promql)}&start=${now - 60}&end=${now + 60}`,
          );
          const body = (await response.json()) as {
            data: { exemplars: { labels: Record<string, string>; value: string }[] }[];
          };
          const found = body.data.flatMap((d) => d.exemplars);
          return found.length > 0 ? found : undefined;
        },
        12_000,
      );
      expect(exemplars[0]!.labels).toEqual({ trace_id: slowest.traceId });
      expect(Number(exemplars[0]!.value)).toBe(slowest.value / 1000);
      // Only the OpenMetrics job has the companion counter.
      expect(await query(`${promql.slice(0, -1)},job="text"}`)).toEqual([]);
    });
  });
}
