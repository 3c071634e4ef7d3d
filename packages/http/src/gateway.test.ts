import type { Monitor } from '@prsm/core';
import { describe, expect, it } from 'vitest';
import { apiGatewayComponentSpecific, apiGatewayReport } from './gateway.js';
import { testResources } from './test-support.js';

const resources = testResources();

function newMonitor(): Monitor {
  return resources.monitor().monitor;
}

describe('apiGatewayReport', () => {
  it('reads zeros and nulls from a monitor that saw no request', () => {
    expect(apiGatewayReport(newMonitor())).toEqual({
      component: 'api_gateway',
      window_seconds: 900,
      request_volume: {
        total_requests: 0,
        window_requests: 0,
        per_minute: 0,
        per_hour: 0,
        minute_trend: 'stable',
        hour_trend: 'stable',
        minute_slope: NaN,
      },
      response_times: { p50: null, p95: null, p99: null, average: null },
      error_rates: { client_error_rate: 0, server_error_rate: 0, categories: [] },
      rate_limiting: {
        rate_limited: 0,
        rate_limited_rate: 0,
        quota_utilization: null,
        routes: [],
        near_limit_routes: [],
      },
    });
  });

  it('reads only its component, and falls back to the window rate without history', () => {
    const monitor = newMonitor();
    const timer = monitor.timer('http.server.request.duration', { component: 'edge' });
    const tags = {
      'http.request.method': 'GET',
      'http.route': '/a',
      'http.response.status_code': '418',
      'http.response.status_class': '4xx',
    };
    for (let i = 0; i < 6; i++) timer.record(5, tags);
    monitor.timer('http.server.request.duration').record(5, tags);
    const r = apiGatewayReport(monitor, { component: 'edge', windowSeconds: 60 });
    expect(r.request_volume).toMatchObject({ total_requests: 6, window_requests: 6 });
    expect(r.request_volume.per_minute).toBeGreaterThan(0);
    expect(r.error_rates.categories).toEqual([
      { status_code: '418', category: 'client_error', class: '4xx', count: 6, rate: 1 },
    ]);
    expect(r.response_times.p50).toBe(5);
  });

  it('flattens to numbers only, leaving out what was not measured', () => {
    expect(apiGatewayComponentSpecific(apiGatewayReport(newMonitor()))).toEqual({
      client_error_rate: 0,
      rate_limited_rate: 0,
      requests_per_hour: 0,
      requests_per_minute: 0,
      server_error_rate: 0,
    });
  });

  it('rejects bad options', () => {
    const monitor = newMonitor();
    const bad: unknown[] = [
      null,
      { component: '' },
      { windowSeconds: 61 },
      { trendMinutes: 1 },
      { trendHours: 2.5 },
      { quotaThreshold: 2 },
    ];
    for (const options of bad) {
      expect(() => apiGatewayReport(monitor, options as never), JSON.stringify(options)).toThrow(
        TypeError,
      );
    }
  });
});
