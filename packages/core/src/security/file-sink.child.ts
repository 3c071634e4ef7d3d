/**
 * Child process of file-sink.test.ts: an audit log on the JSONL file given, recording
 * as fast as it can in batches, until it is killed. Prints `start <next seq>` when it
 * opened the file and `ready` once a few thousand records were handed to the sink.
 */
import { systemClock } from '../clock/clock.js';
import { Diagnostics } from '../diagnostics/diagnostics.js';
import { NoopMonitor } from '../global.js';
import { AuditLog } from './audit.js';
import { JsonlFileSink } from './sinks.js';

const path = process.argv[2]!;
const audit = new AuditLog(
  { clock: systemClock, diagnostics: new Diagnostics(), recorder: new NoopMonitor() },
  {
    sink: new JsonlFileSink({ path, flushIntervalMs: 1, maxBatchBytes: 64 * 1024, fsync: 'none' }),
  },
);
console.log(`start ${audit.head().nextSeq}`);
let i = 0;
let said = false;
function tick(): void {
  for (let k = 0; k < 500; k++) {
    audit.record({
      user_id: `user_${i % 13}`,
      action: 'write',
      resource_type: 'files',
      resource_id: `f_${i}`,
      outcome: 'success',
      metadata: { i, pad: 'x'.repeat((i * 7919) % 300) },
    });
    i++;
  }
  if (!said && i >= 5000) {
    said = true;
    console.log('ready');
  }
  setImmediate(tick);
}
tick();
