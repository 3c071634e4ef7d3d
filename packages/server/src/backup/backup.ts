/**
 * backup/: `prsm-monitor backup` and `restore`. A backup is SQLite's online backup
 * (better-sqlite3's `db.backup()`) through a connection of its own, so it runs while
 * the server serves and ingests (WAL: the copy is one snapshot, writers are not held
 * back); the copy is written to a temporary file, checked with `PRAGMA
 * integrity_check`, then renamed into place. A restore checks the backup first and
 * refuses to replace a database that another process has open. May import
 * better-sqlite3 and node:fs only.
 */
import { closeSync, existsSync, fsyncSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

import Database from 'better-sqlite3';

/**
 * What a backup or restore did.
 *
 * @example
 * ```ts
 * const result: BackupResult = await backupDatabase('./prsm-monitor.db', './backup.db');
 * console.log(`${result.bytes} bytes, integrity ${result.integrity}`);
 * ```
 */
export interface BackupResult {
  /** The file written. */
  readonly path: string;
  /** Its size in bytes. */
  readonly bytes: number;
  /** The result of `PRAGMA integrity_check` on it: always `ok` (anything else throws). */
  readonly integrity: 'ok';
  /** How long it took, in ms. */
  readonly durationMs: number;
}

/**
 * A backup or restore that was refused or failed a check; `code` says which:
 * `exists` (the target exists and `force` was not given), `in_use` (another process
 * has the database open), `integrity` (a check failed), `not_a_store` (the file is not
 * a PRSM Monitor database), `missing` (no such file).
 *
 * @example
 * ```ts
 * try {
 *   restoreDatabase('./backup.db', './prsm-monitor.db');
 * } catch (error) {
 *   if (error instanceof BackupError && error.code === 'exists') console.error('pass force: true');
 * }
 * ```
 */
export class BackupError extends Error {
  /** Why. */
  readonly code: 'exists' | 'in_use' | 'integrity' | 'not_a_store' | 'missing';

  constructor(code: BackupError['code'], message: string) {
    super(message);
    this.name = 'BackupError';
    this.code = code;
  }
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** `PRAGMA integrity_check` of a file, throwing a {@link BackupError} unless `ok`. */
function checkIntegrity(path: string, what: string): void {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const rows = db.pragma('integrity_check') as { integrity_check: string }[];
    const problems = rows.map((r) => r.integrity_check).filter((r) => r !== 'ok');
    if (problems.length > 0 || rows.length === 0) {
      throw new BackupError(
        'integrity',
        `${what} ${path} fails PRAGMA integrity_check: ${problems.slice(0, 5).join('; ')}`,
      );
    }
    const meta = db
      .prepare<[], { n: number }>(
        "SELECT COUNT(*) AS n FROM sqlite_schema WHERE type = 'table' AND name IN ('meta', 'series', 'points')",
      )
      .get();
    if (meta?.n !== 3) {
      throw new BackupError('not_a_store', `${what} ${path} is not a PRSM Monitor database`);
    }
  } catch (error) {
    if (error instanceof BackupError) throw error;
    throw new BackupError(
      'integrity',
      `${what} ${path} cannot be read as SQLite: ${error instanceof Error ? error.message : String(error)}`,
    );
  } finally {
    db.close();
  }
}

/**
 * Whether another connection (of any process) has the SQLite database at `path` open:
 * an exclusive lock is tried once, without waiting.
 *
 * @example
 * ```ts
 * if (databaseInUse('./prsm-monitor.db')) console.error('stop the server first');
 * ```
 */
export function databaseInUse(path: string): boolean {
  if (!existsSync(path)) return false;
  const db = new Database(path, { fileMustExist: true, timeout: 0 });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
    db.exec('COMMIT');
    return false;
  } catch (error) {
    if ((error as { code?: unknown }).code === 'SQLITE_BUSY') return true;
    throw error;
  } finally {
    db.close();
  }
}

/**
 * Options of {@link backupDatabase}.
 *
 * @example
 * ```ts
 * await backupDatabase('./prsm-monitor.db', './backup.db', { force: true });
 * ```
 */
export interface BackupOptions {
  /** Replace `out` when it exists. Default false. */
  readonly force?: boolean;
}

/**
 * Copies the live database at `dbPath` to `out` with SQLite's online backup, through a
 * connection of its own: safe while a server serves and ingests from the same file (in
 * WAL mode the copy is one snapshot, holding every write committed before it started,
 * and writers are not blocked). The copy goes to a temporary file beside `out`, is
 * checked with `PRAGMA integrity_check` and fsynced, then renamed into place. Rejects
 * with a {@link BackupError} when `out` exists (without `force`) or a check fails.
 *
 * @example
 * ```ts
 * import { backupDatabase } from '@prsm/server';
 *
 * const { bytes } = await backupDatabase('./prsm-monitor.db', `./backups/${Date.now()}.db`);
 * ```
 */
export async function backupDatabase(
  dbPath: string,
  out: string,
  options: BackupOptions = {},
): Promise<BackupResult> {
  if (typeof dbPath !== 'string' || dbPath === '' || dbPath === ':memory:') {
    throw new TypeError('backupDatabase: dbPath must be a database file');
  }
  if (typeof out !== 'string' || out === '') {
    throw new TypeError('backupDatabase: out must be a file path');
  }
  if (!existsSync(dbPath)) throw new BackupError('missing', `no database at ${dbPath}`);
  if (existsSync(out) && options.force !== true) {
    throw new BackupError('exists', `${out} exists; pass force to replace it`);
  }
  const started = Date.now();
  const tmp = `${out}.tmp-${process.pid}-${started}`;
  const source = new Database(dbPath, { fileMustExist: true, timeout: 10_000 });
  try {
    // One step for the whole file: a read transaction that sees one snapshot, instead
    // of steps of 100 pages that restart whenever the server commits in between.
    await source.backup(tmp, { progress: () => 1 << 30 });
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  } finally {
    source.close();
  }
  try {
    checkIntegrity(tmp, 'the backup');
    fsyncPath(tmp);
    renameSync(tmp, out);
    fsyncPath(dirname(out));
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
  return {
    path: out,
    bytes: statSync(out).size,
    integrity: 'ok',
    durationMs: Date.now() - started,
  };
}

/**
 * Options of {@link restoreDatabase}.
 *
 * @example
 * ```ts
 * restoreDatabase('./backup.db', './prsm-monitor.db', { force: true });
 * ```
 */
export interface RestoreOptions {
  /** Replace a database that exists (never one in use). Default false. */
  readonly force?: boolean;
}

/**
 * Restores the backup `from` as the database `dbPath`. First checks the backup
 * (`PRAGMA integrity_check`, and that it is a PRSM Monitor database); refuses when
 * `dbPath` exists without `force`, and always when another process has it open (stop
 * the server first). The backup is copied to a temporary file beside `dbPath`, fsynced,
 * the old database's `-wal` and `-shm` files removed, and renamed into place. Throws a
 * {@link BackupError} when refused.
 *
 * @example
 * ```ts
 * import { restoreDatabase } from '@prsm/server';
 *
 * restoreDatabase('./backups/nightly.db', './prsm-monitor.db', { force: true });
 * ```
 */
export async function restoreDatabase(
  from: string,
  dbPath: string,
  options: RestoreOptions = {},
): Promise<BackupResult> {
  if (typeof from !== 'string' || from === '' || from === ':memory:') {
    throw new TypeError('restoreDatabase: from must be a backup file');
  }
  if (typeof dbPath !== 'string' || dbPath === '' || dbPath === ':memory:') {
    throw new TypeError('restoreDatabase: dbPath must be a database file');
  }
  if (!existsSync(from)) throw new BackupError('missing', `no backup at ${from}`);
  const started = Date.now();
  checkIntegrity(from, 'the backup');
  if (existsSync(dbPath)) {
    if (options.force !== true) {
      throw new BackupError('exists', `${dbPath} exists; pass force to replace it`);
    }
    if (databaseInUse(dbPath)) {
      throw new BackupError(
        'in_use',
        `${dbPath} is open in another process (a running server?); stop it first`,
      );
    }
  }
  const tmp = `${dbPath}.restore-${process.pid}-${started}`;
  const source = new Database(from, { readonly: true, fileMustExist: true });
  try {
    await source.backup(tmp, { progress: () => 1 << 30 });
    checkIntegrity(tmp, 'the restored copy');
    fsyncPath(tmp);
    // A -wal left by the old database would be replayed into the restored one.
    rmSync(`${dbPath}-wal`, { force: true });
    rmSync(`${dbPath}-shm`, { force: true });
    renameSync(tmp, dbPath);
    fsyncPath(dirname(dbPath));
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  } finally {
    source.close();
  }
  return {
    path: dbPath,
    bytes: statSync(dbPath).size,
    integrity: 'ok',
    durationMs: Date.now() - started,
  };
}
