/**
 * Child process of monitor-export.test.ts: a monitor with handleSignals and an
 * exporter posting to the URL given; records a counter, says "ready", and keeps the
 * process alive until a signal comes.
 */
import { Monitor } from '../monitor.js';
import type { ExportItem } from './items.js';
import { httpExporter } from './test-support-exporter.js';

const url = process.argv[2]!;
const monitor = new Monitor({
  exporters: [httpExporter<ExportItem>(url)],
  exportIntervalSeconds: 3600,
  handleSignals: true,
});
monitor.counter('signals.handled').bind().inc();
setInterval(() => {}, 1000); // a process with work to do
console.log('ready');
