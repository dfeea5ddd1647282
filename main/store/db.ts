// One Kysely instance over SQLite (better-sqlite3, the default) or PostgreSQL (pg), migrated on open.
import fs from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import type { DatabaseConfig } from '../config';
import { migrations } from './migrations';
import type { Database } from './schema';

export type Dialect = 'sqlite' | 'postgres';

export interface Store {
  db: Kysely<Database>;
  dialect: Dialect;
  close(): Promise<void>;
}

export async function openStore(config: DatabaseConfig): Promise<Store> {
  const store = config.kind === 'sqlite' ? openSqlite(config.file, config.nativeBinding) : openPostgres(config.url);
  try {
    await migrate(store);
  } catch (e) {
    await store.close();
    throw e;
  }
  return store;
}

function openSqlite(file: string, nativeBinding?: string): Store {
  if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
  const database = new SQLite(file, nativeBinding ? { nativeBinding } : {});
  database.pragma('journal_mode = WAL');
  database.pragma('foreign_keys = ON');
  database.pragma('busy_timeout = 5000');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
  return { db, dialect: 'sqlite', close: () => db.destroy() };
}

function openPostgres(url: string | undefined): Store {
  const pool = new pg.Pool({ ...(url ? { connectionString: url } : {}), max: 10 });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { db, dialect: 'postgres', close: () => db.destroy() };
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

/** A unique-constraint violation from either driver. */
export function isUniqueViolation(e: unknown): boolean {
  const err = e as { code?: string } | undefined;
  return err?.code === '23505' || err?.code === 'SQLITE_CONSTRAINT_UNIQUE';
}
