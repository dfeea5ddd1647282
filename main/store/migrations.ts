// Versioned migrations, applied in order at start. Never edit one that has shipped: add the next.
import { sql, type Kysely, type Migration } from 'kysely';
import type { Dialect } from './db';

export function migrations(dialect: Dialect): Record<string, Migration> {
  // SQLite's INTEGER PRIMARY KEY is its rowid; PostgreSQL wants an identity column.
  const id = (db: Kysely<unknown>, table: string) =>
    dialect === 'postgres'
      ? db.schema.createTable(table).addColumn('id', 'integer', (c) => c.primaryKey().generatedAlwaysAsIdentity())
      : db.schema.createTable(table).addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());

  return {
    '0001_environments_audit_keys': {
      async up(db) {
        await id(db, 'environments')
          .addColumn('guid', 'text', (c) => c.notNull().unique())
          .addColumn('name', 'text', (c) => c.notNull().unique())
          .addColumn('title', 'text', (c) => c.notNull())
          .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
          .addColumn('matching', 'text', (c) => c.notNull().check(sql`matching in ('any', 'exact', 'none')`))
          .addColumn('supervisor', 'text')
          .addColumn('installations', 'text', (c) => c.notNull())
          .addColumn('volume_mounts', 'text', (c) => c.notNull().defaultTo('[]'))
          .addColumn('managed_by', 'text')
          .addColumn('created_time', 'text', (c) => c.notNull())
          .addColumn('updated_time', 'text', (c) => c.notNull())
          .execute();

        await id(db, 'audit_log')
          .addColumn('time', 'text', (c) => c.notNull())
          .addColumn('actor', 'text', (c) => c.notNull())
          .addColumn('action', 'text', (c) => c.notNull())
          .addColumn('target_type', 'text', (c) => c.notNull())
          .addColumn('target_id', 'text', (c) => c.notNull())
          .addColumn('before', 'text')
          .addColumn('after', 'text')
          .execute();
        await db.schema.createIndex('audit_log_target').on('audit_log').columns(['target_type', 'target_id']).execute();
        await db.schema.createIndex('audit_log_time').on('audit_log').column('time').execute();

        await id(db, 'api_keys')
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('prefix', 'text', (c) => c.notNull())
          .addColumn('key_hash', 'text', (c) => c.notNull().unique())
          .addColumn('role', 'text', (c) => c.notNull().check(sql`role in ('viewer', 'publisher', 'admin')`))
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('created_time', 'text', (c) => c.notNull())
          .addColumn('last_used_time', 'text')
          .execute();

        await db.schema
          .createTable('settings')
          .addColumn('key', 'text', (c) => c.primaryKey())
          .addColumn('value', 'text', (c) => c.notNull())
          .execute();
      },
    },
    '0002_sessions_login_links': {
      // Browser sessions live server-side so each can be listed and revoked; sign-in links are
      // single-use and short-lived. Only SHA-256 hashes of either secret are stored.
      async up(db) {
        await id(db, 'sessions')
          .addColumn('token_hash', 'text', (c) => c.notNull().unique())
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('created_time', 'text', (c) => c.notNull())
          .addColumn('expires_time', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('login_links')
          .addColumn('token_hash', 'text', (c) => c.primaryKey())
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('created_time', 'text', (c) => c.notNull())
          .addColumn('expires_time', 'text', (c) => c.notNull())
          .execute();
      },
    },
  };
}
