/**
 * A small fetch-based exporter for tests (the REST exporter proper belongs to
 * @prsm/exporters): POSTs `{ items }` as JSON with the batch id in `x-batch-id`.
 * Imports no test runner, so child processes can use it.
 */
import type { ExportBatch, Exporter } from './pipeline.js';

/** A small JSON-over-HTTP exporter: 2xx ok, 429/5xx retryable (with Retry-After), other 4xx not. */
export function httpExporter<T = number>(url: string): Exporter<T> & { shutdowns: number } {
  const exporter = {
    name: 'test-http',
    shutdowns: 0,
    async export(batch: ExportBatch<T>, signal: AbortSignal) {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-batch-id': batch.id },
        body: JSON.stringify({ items: batch.items }),
        signal,
      });
      await response.arrayBuffer();
      if (response.ok) return { ok: true };
      const retryAfter = response.headers.get('retry-after');
      return {
        ok: false,
        retryable: response.status === 429 || response.status >= 500,
        error: `HTTP ${response.status}`,
        ...(retryAfter !== null && { retryAfterMs: Number(retryAfter) * 1000 }),
      };
    },
    shutdown() {
      exporter.shutdowns++;
      return Promise.resolve();
    },
  };
  return exporter;
}
