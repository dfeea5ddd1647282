// One Kysely instance over SQLite (better-sqlite3, the default) or PostgreSQL (pg), migrated on open.
import fs from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import type { DatabaseConfig } from '../config';
import { silentLogger, type Logger } from '../log';
import { migrations } from './migrations';
import type { Database } from './schema';

export type Dialect = 'sqlite' | 'postgres';

export interface Store {
  db: Kysely<Database>;
  dialect: Dialect;
  /** Answers when the database does (readiness); throws when it is busy or unreachable. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export async function openStore(config: DatabaseConfig, log: Logger = silentLogger): Promise<Store> {
  if (config.kind === 'postgres') {
    const store = openPostgres(config.url, log);
    await migrateOrClose(store);
    return store;
  }
  // SQLite problems at start are nearly always the file or its folder: name them.
  try {
    const store = openSqlite(config);
    await migrateOrClose(store);
    return store;
  } catch (e) {
    throw new Error(
      `Cannot use the SQLite database ${config.file}: ${(e as Error).message}. ` +
        `Its folder must exist or be creatable, and both must be writable by this user; or choose another place with OFFHOST_DATA_DIR, OFFHOST_DB_FILE or DATABASE_URL.`,
    );
  }
}

async function migrateOrClose(store: Store): Promise<void> {
  try {
    await migrate(store);
  } catch (e) {
    await store.close();
    throw e;
  }
}

function openSqlite({ file, nativeBinding, busyTimeoutMs = 5000 }: Extract<DatabaseConfig, { kind: 'sqlite' }>): Store {
  if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
  const database = new SQLite(file, nativeBinding ? { nativeBinding } : {});
  try {
    database.pragma('journal_mode = WAL');
    database.pragma('foreign_keys = ON');
    database.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
  } catch (e) {
    database.close();
    throw e;
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
  return { db, dialect: 'sqlite', ping: async () => void database.prepare('select 1').get(), close: () => db.destroy() };
}

function openPostgres(url: string | undefined, log: Logger): Store {
  // A request must not wait forever for an unreachable server: give up on connecting after 5 s.
  const pool = new pg.Pool({ ...(url ? { connectionString: url } : {}), max: 10, connectionTimeoutMillis: 5000 });
  // A client losing its connection must not crash the process. The pool hears it while the client
  // is idle; between being handed out and sending its query nobody would, and an unheard 'error'
  // event throws, so every client gets a listener of its own. The query then fails (503) and the
  // pool replaces the client.
  const lost = (err: Error) => log.warn({ err: { message: err.message, code: (err as { code?: string }).code } }, 'PostgreSQL connection lost; the pool will reconnect');
  pool.on('error', lost);
  pool.on('connect', (client) => client.on('error', () => {}));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { db, dialect: 'postgres', ping: async () => void (await pool.query('select 1')), close: () => db.destroy() };
}

async function migrate(store: Store): Promise<void> {
  const all = migrations(store.dialect);
  const migrator = new Migrator({
    db: store.db,
    provider: { getMigrations: async () => all },
    migrationTableName: 'offhost_migration',
    migrationLockTableName: 'offhost_migration_lock',
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(`Database migration ${failed?.migrationName ?? ''} failed: ${(error as Error).message ?? String(error)}`);
  }
}

/** The database is busy (another process holds SQLite's write lock) or can't be reached: try later. */
export function isDatabaseUnavailable(e: unknown): boolean {
  const err = e as { code?: unknown; message?: unknown } | undefined;
  const code = typeof err?.code === 'string' ? err.code : '';
  const message = typeof err?.message === 'string' ? err.message : '';
  return (
    code === 'SQLITE_BUSY' ||
    code.startsWith('SQLITE_BUSY_') ||
    code === 'SQLITE_LOCKED' ||
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'EPIPE'].includes(code) ||
    /^08/.test(code) || // PostgreSQL connection exceptions
    ['57P01', '57P02', '57P03', '53300'].includes(code) || // shutting down, can't connect now, too many connections
    /timeout exceeded when trying to connect|Connection terminated|not queryable/i.test(message)
  );
}

/** A unique-constraint violation from either driver. */
export function isUniqueViolation(e: unknown): boolean {
  const err = e as { code?: string } | undefined;
  return err?.code === '23505' || err?.code === 'SQLITE_CONSTRAINT_UNIQUE';
}
