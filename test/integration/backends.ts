// Both store backends, each test on a fresh, empty database: a temp SQLite file, or a new
// PostgreSQL database created from the server the global setup found (and dropped afterwards).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import type { DatabaseConfig } from '../../main/config';
import { openStore, type Store } from '../../main/store/db';

export interface Backend {
  name: 'sqlite' | 'postgres';
  /** A fresh database config; `drop` removes it. */
  create(): Promise<{ config: DatabaseConfig; drop(): Promise<void> }>;
}

const sqlite: Backend = {
  name: 'sqlite',
  async create() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-test-'));
    return { config: { kind: 'sqlite', file: path.join(dir, 'offhost.db') }, drop: async () => fs.rmSync(dir, { recursive: true, force: true }) };
  },
};

const postgres: Backend = {
  name: 'postgres',
  async create() {
    const base = inject('postgresUrl');
    // Only the PostgreSQL half fails when the global setup could not get a server.
    if (!base) throw new Error(`no PostgreSQL for this run: ${inject('postgresError')}`);
    const name = `offhost_t_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: base });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const url = new URL(base);
    url.pathname = `/${name}`;
    return {
      config: { kind: 'postgres', url: url.toString() },
      async drop() {
        // Plain DROP (not WITH (FORCE), which may not signal an autovacuum worker as a non-superuser;
        // plain DROP stops those itself). Our pool's connections may take a moment to go away.
        const c = new pg.Client({ connectionString: base });
        await c.connect();
        try {
          for (let attempt = 0; ; attempt++) {
            try {
              await c.query(`DROP DATABASE IF EXISTS ${name}`);
              return;
            } catch (e) {
              if ((e as { code?: string }).code !== '55006' || attempt >= 50) throw e;
              await new Promise((r) => setTimeout(r, 100));
            }
          }
        } finally {
          await c.end();
        }
      },
    };
  },
};

export const BACKENDS: Backend[] = [sqlite, postgres];

/** Open a migrated store on a fresh database; the returned close() also drops it. */
export async function freshStore(backend: Backend): Promise<Store & { config: DatabaseConfig }> {
  const { config, drop } = await backend.create();
  const store = await openStore(config);
  return {
    ...store,
    config,
    async close() {
      await store.close();
      await drop();
    },
  };
}
