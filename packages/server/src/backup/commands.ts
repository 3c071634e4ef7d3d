/**
 * The `prsm-monitor` subcommands of issue 12: `export`, `backup`, `restore`. Each takes
 * its arguments (after the command name); a bad flag throws Node's `ERR_PARSE_ARGS_*`
 * or a `TypeError` (the command exits 2), a refused backup or restore a
 * {@link BackupError} (exit 1). May import backup/ and export/.
 */
import {
  closeSync,
  createWriteStream,
  existsSync,
  fsyncSync,
  openSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';

import {
  EXPORT_DATASETS,
  EXPORT_FORMATS,
  parseExportTime,
  type ExportDataset,
  type ExportFormat,
} from '../export/datasets.js';
import { openExportStream } from '../export/stream.js';
import { backupDatabase, restoreDatabase } from './backup.js';

/** The usage text of the three commands, for the CLI's help. @internal */
export const DATA_USAGE = `  export --dataset <d> [--format csv|jsonl] [--from <iso>] [--to <iso>] [--db <file>] [--out <file>]
                            BI export: datasets ${EXPORT_DATASETS.join(', ')}; rows with a time in
                            [from, to), CSV (RFC 4180, header row) or JSON Lines, to stdout or --out
  backup --out <file> [--db <file>] [--force]
                            Online backup of the database (safe while the server runs),
                            checked with PRAGMA integrity_check
  restore --from <backup> [--db <file>] [--force]
                            Restore a backup as the database: checks it first; refuses to
                            replace an existing database without --force, and one in use
`;

function dbOf(value: string | undefined): string {
  const fromEnv = process.env['PRSM_DB'];
  return value ?? (fromEnv === undefined || fromEnv === '' ? './prsm-monitor.db' : fromEnv);
}

function noPositionals(command: string, positionals: readonly string[]): void {
  if (positionals.length > 0) {
    throw new TypeError(`${command} takes no argument, got '${positionals[0]}'`);
  }
}

/** `prsm-monitor export ...`. @internal */
export async function exportCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      dataset: { type: 'string' },
      format: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      db: { type: 'string' },
      out: { type: 'string' },
    },
  });
  noPositionals('export', positionals);
  const dataset = values.dataset;
  if (dataset === undefined || !(EXPORT_DATASETS as readonly string[]).includes(dataset)) {
    throw new TypeError(`--dataset must be one of ${EXPORT_DATASETS.join(', ')}`);
  }
  const format = values.format ?? 'csv';
  if (!(EXPORT_FORMATS as readonly string[]).includes(format)) {
    throw new TypeError(`--format must be one of ${EXPORT_FORMATS.join(', ')}, got '${format}'`);
  }
  const bound = (name: 'from' | 'to'): number | undefined => {
    const text = values[name];
    if (text === undefined) return undefined;
    const ms = parseExportTime(text);
    if (ms === undefined) throw new TypeError(`--${name} is not an ISO 8601 time: '${text}'`);
    return ms;
  };
  const from = bound('from');
  const to = bound('to');
  if (from !== undefined && to !== undefined && from > to) {
    throw new TypeError('--from must not be after --to');
  }
  const db = dbOf(values.db);
  if (!existsSync(db)) throw new Error(`no database at ${db}`);
  const stream = openExportStream(db, {
    dataset: dataset as ExportDataset,
    format: format as ExportFormat,
    ...(from === undefined ? {} : { from }),
    ...(to === undefined ? {} : { to }),
  });
  if (values.out === undefined) {
    await pipeline(stream, process.stdout, { end: false });
    return;
  }
  // Written beside the target and renamed: a reader never sees half a file.
  const tmp = `${values.out}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    await pipeline(stream, createWriteStream('', { fd, autoClose: false }));
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, values.out);
  } catch (error) {
    try {
      closeSync(fd);
    } catch {
      // Closed already.
    }
    rmSync(tmp, { force: true });
    throw error;
  }
}

/** `prsm-monitor backup ...`. @internal */
export async function backupCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      db: { type: 'string' },
      out: { type: 'string' },
      force: { type: 'boolean' },
    },
  });
  noPositionals('backup', positionals);
  if (values.out === undefined) throw new TypeError('backup needs --out <file>');
  const db = dbOf(values.db);
  const result = await backupDatabase(db, values.out, { force: values.force === true });
  process.stdout.write(
    `Backed up ${db} to ${result.path} (${result.bytes} bytes, integrity ${result.integrity}, ${result.durationMs} ms).\n`,
  );
}

/** `prsm-monitor restore ...`. @internal */
export async function restoreCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      db: { type: 'string' },
      from: { type: 'string' },
      force: { type: 'boolean' },
    },
  });
  noPositionals('restore', positionals);
  if (values.from === undefined) throw new TypeError('restore needs --from <backup file>');
  const db = dbOf(values.db);
  const result = await restoreDatabase(values.from, db, { force: values.force === true });
  process.stdout.write(
    `Restored ${values.from} as ${result.path} (${result.bytes} bytes, integrity ${result.integrity}).\n`,
  );
}
