#!/usr/bin/env node
/**
 * The `prsm-monitor` command: `serve` runs the server, `keys create|list|revoke`
 * manage API keys in the same SQLite file (safe while the server runs: WAL). Bad
 * flags exit with code 2 and a message on stderr. Imports the server and the store.
 */
import { parseArgs } from 'node:util';

import { webhookChannel } from '@prsm/exporters/notifiers';
import type { NotificationChannel } from '@prsm/core';

import { isRole, ROLES } from './auth/keys.js';
import { backupCommand, DATA_USAGE, exportCommand, restoreCommand } from './backup/commands.js';
import { createServer } from './server.js';
import { parseAuditRetention } from './store/audit.js';
import { openStore } from './store/store.js';

const USAGE = `Usage: prsm-monitor <command> [options]

Commands:
  serve                     Run the monitoring server
  keys create --role <role> Create an API key (printed once, alone on the last line)
  keys list                 List keys (id, role, created, last used, revoked; never the key)
  keys revoke <id>          Revoke a key
${DATA_USAGE}
Options of serve:
  --port <n>        Port (env PRSM_PORT; default 7070; 0 for any free port)
  --host <addr>     Interface (env PRSM_HOST; default 127.0.0.1)
  --db <file>       SQLite file (env PRSM_DB; default ./prsm-monitor.db)
  --dev             Accept every request from 127.0.0.1 without a key (development only)
  --body-limit <n>  Largest request body in bytes, also once inflated (default 1048576)
  --rate <n>        Requests per second per key (default 50; 0 for no limit)
  --burst <n>       Burst per key (default 2 x rate)
  --webhook-url <u> Alert notifications to this URL: the channel rules name "webhook"
                    (env PRSM_WEBHOOK_URL; signed when PRSM_WEBHOOK_SECRET is set)
  --eval-interval <ms>  How often alert rules are evaluated (default 10000; 0: never)
  --synchronous <full|normal>  SQLite durability (default full: survives power loss;
                    normal: survives a crash of the process, faster ingest)
  --archive-dir <dir>  Write rows past retention to JSONL files here (one per day
                    per dataset) before deleting them (env PRSM_ARCHIVE_DIR)
  --archive-gzip    Gzip the archive files
  --audit-retention <spec>  Retention of stored audit records by compliance tag, e.g.
                    SOC2=400d,GDPR=30d,default=365d (units ms, s, m, h, d; tags left
                    out keep core's defaults); each cut is recorded in the server's own
                    audit chain (env PRSM_AUDIT_RETENTION; default: records are kept)

Options of keys:
  --db <file>       SQLite file (env PRSM_DB; default ./prsm-monitor.db)
  --role <role>     One of ${ROLES.join(', ')} (keys create)
  --one-time        keys create: a one-time login key for the web dashboard, spent by
                    its first login (never accepted as an API key)

  -h, --help        This help
`;

class UsageError extends Error {}

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

function err(line: string): void {
  process.stderr.write(`${line}\n`);
}

function integer(
  name: string,
  text: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text.trim())) throw new UsageError(`${name} must be an integer, got '${text}'`);
  const n = Number(text);
  if (n < min || n > max) throw new UsageError(`${name} must be from ${min} to ${max}, got ${n}`);
  return n;
}

/** An environment variable, empty counting as unset. */
function env(name: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : value;
}

function iso(ms: number | null): string {
  return ms === null ? '-' : new Date(ms).toISOString();
}

async function serve(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      db: { type: 'string' },
      dev: { type: 'boolean' },
      'body-limit': { type: 'string' },
      rate: { type: 'string' },
      burst: { type: 'string' },
      'webhook-url': { type: 'string' },
      'eval-interval': { type: 'string' },
      synchronous: { type: 'string' },
      'archive-dir': { type: 'string' },
      'archive-gzip': { type: 'boolean' },
      'audit-retention': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    out(USAGE);
    return;
  }
  if (positionals.length > 0)
    throw new UsageError(`serve takes no argument, got '${positionals[0]}'`);
  const evaluationIntervalMs = integer(
    '--eval-interval',
    values['eval-interval'],
    10_000,
    0,
    86_400_000,
  );
  const synchronous = values.synchronous ?? 'full';
  if (synchronous !== 'full' && synchronous !== 'normal') {
    throw new UsageError(`--synchronous must be full or normal, got '${synchronous}'`);
  }
  const channels: Record<string, NotificationChannel> = {};
  const webhookUrl = values['webhook-url'] ?? env('PRSM_WEBHOOK_URL');
  if (webhookUrl !== undefined) {
    const secret = env('PRSM_WEBHOOK_SECRET');
    try {
      channels['webhook'] = webhookChannel({
        url: webhookUrl,
        ...(secret === undefined ? {} : { secret }),
      });
    } catch (error) {
      throw new UsageError(
        `--webhook-url: ${error instanceof Error ? error.message : 'not a valid URL'}`,
      );
    }
  }
  const port = integer('--port', values.port ?? env('PRSM_PORT'), 7070, 0, 65535);
  const host = values.host ?? env('PRSM_HOST') ?? '127.0.0.1';
  const db = values.db ?? env('PRSM_DB') ?? './prsm-monitor.db';
  const bodyLimit = integer(
    '--body-limit',
    values['body-limit'],
    1024 * 1024,
    1,
    1024 * 1024 * 1024,
  );
  const rate = integer('--rate', values.rate, 50, 0, 1_000_000);
  const burst = integer('--burst', values.burst, Math.max(1, 2 * rate), 1, 1_000_000);
  const auditRetention = values['audit-retention'] ?? env('PRSM_AUDIT_RETENTION');
  let auditRecordRetentionMs: ReturnType<typeof parseAuditRetention> | undefined;
  try {
    auditRecordRetentionMs =
      auditRetention === undefined ? undefined : parseAuditRetention(auditRetention);
  } catch (error) {
    throw new UsageError(`--audit-retention: ${(error as Error).message}`);
  }
  const dev = values.dev === true;
  if (dev) {
    err('');
    err(
      '!!! DEVELOPMENT MODE: every request from 127.0.0.1 is accepted WITHOUT an API key, as admin. !!!',
    );
    err(
      '!!! Never use --dev on a shared machine or in production.                                      !!!',
    );
    if (host !== '127.0.0.1' && host !== 'localhost' && host !== '::1') {
      err(
        `!!! Listening on ${host}: requests from other hosts still need a key.                 !!!`,
      );
    }
    err('');
  }
  const server = await createServer({
    db,
    port,
    host,
    dev,
    bodyLimit,
    rateLimit: rate === 0 ? false : { perSecond: rate, burst },
    storeOptions: {
      synchronous,
      ...(auditRecordRetentionMs !== undefined && { auditRecordRetentionMs }),
      ...((values['archive-dir'] ?? env('PRSM_ARCHIVE_DIR')) !== undefined && {
        archive: {
          dir: (values['archive-dir'] ?? env('PRSM_ARCHIVE_DIR'))!,
          gzip: values['archive-gzip'] === true,
        },
      }),
    },
    alerting: { channels, evaluationIntervalMs },
    onError: (error) =>
      err(
        `prsm-monitor: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      ),
  });
  if (!server.store.hasKeys() && !dev) {
    out('No API key exists yet: every request needing one will get 401. Create one with');
    out(`  prsm-monitor keys create --role admin --db ${db}`);
  }
  out(`prsm-monitor listening on ${server.url ?? '?'} (db ${db})`);
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

function keys(args: string[]): void {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      db: { type: 'string' },
      role: { type: 'string' },
      'one-time': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    out(USAGE);
    return;
  }
  const [action, ...rest] = positionals;
  const db = values.db ?? env('PRSM_DB') ?? './prsm-monitor.db';
  if (action === 'create') {
    if (rest.length > 0) throw new UsageError(`keys create takes no argument, got '${rest[0]}'`);
    if (values.role === undefined)
      throw new UsageError(`keys create needs --role (${ROLES.join(', ')})`);
    if (!isRole(values.role))
      throw new UsageError(`--role must be one of ${ROLES.join(', ')}, got '${values.role}'`);
    const store = openStore(db);
    try {
      const oneTime = values['one-time'] === true;
      const created = oneTime ? store.createOneTimeKey(values.role) : store.createKey(values.role);
      out(
        oneTime
          ? `Created one-time login key ${created.id} with role ${created.role}: log in once at the dashboard with it.`
          : `Created key ${created.id} with role ${created.role}. It is shown once: store it now.`,
      );
      out(created.key);
    } finally {
      store.close();
    }
    return;
  }
  if (values.role !== undefined) throw new UsageError('--role is only for keys create');
  if (values['one-time'] !== undefined) throw new UsageError('--one-time is only for keys create');
  if (action === 'list') {
    if (rest.length > 0) throw new UsageError(`keys list takes no argument, got '${rest[0]}'`);
    const store = openStore(db);
    try {
      out(['id', 'role', 'created', 'last_used', 'revoked'].join('\t'));
      for (const k of store.listKeys()) {
        out([k.id, k.role, iso(k.created_at), iso(k.last_used_at), iso(k.revoked_at)].join('\t'));
      }
    } finally {
      store.close();
    }
    return;
  }
  if (action === 'revoke') {
    if (rest.length !== 1) throw new UsageError('keys revoke takes exactly one key id');
    const store = openStore(db);
    try {
      const result = store.revokeKey(rest[0]!);
      if (result === 'unknown') {
        err(`prsm-monitor: no key with id ${rest[0]}`);
        process.exitCode = 1;
        return;
      }
      out(result === 'revoked' ? `Revoked ${rest[0]}.` : `${rest[0]} was already revoked.`);
    } finally {
      store.close();
    }
    return;
  }
  throw new UsageError(
    action === undefined ? 'keys needs create, list or revoke' : `unknown keys command '${action}'`,
  );
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    out(USAGE);
    if (command === undefined) process.exitCode = 2;
    return;
  }
  if (command === 'serve') return serve(rest);
  if (command === 'keys') return keys(rest);
  // Issue 12: BI export, backup and restore (backup/commands.ts).
  if (command === 'export') return exportCommand(rest);
  if (command === 'backup') return backupCommand(rest);
  if (command === 'restore') return restoreCommand(rest);
  throw new UsageError(`unknown command '${command}'`);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  const code = (error as { code?: unknown }).code;
  if (
    error instanceof UsageError ||
    (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'))
  ) {
    err(`prsm-monitor: ${(error as Error).message}`);
    err("Run 'prsm-monitor --help' for usage.");
    process.exit(2);
  }
  if (error instanceof TypeError) {
    err(`prsm-monitor: ${error.message}`);
    process.exit(2);
  }
  err(`prsm-monitor: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
