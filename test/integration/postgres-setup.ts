// Finds the PostgreSQL the integration tests use (a real server, never a fake) and shares its URL.
// .ci/run installs Debian's postgresql and creates the role; locally, point OFFHOST_TEST_DATABASE_URL
// at any server where the user may CREATE DATABASE.
import pg from 'pg';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    postgresUrl: string;
  }
}

export const DEFAULT_TEST_DATABASE_URL = 'postgres://offhost:offhost@127.0.0.1:5432/offhost_test';

export default async function setup(project: TestProject): Promise<void> {
  const url = process.env.OFFHOST_TEST_DATABASE_URL ?? DEFAULT_TEST_DATABASE_URL;
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query('select 1');
  } catch (e) {
    throw new Error(
      `The integration tests need PostgreSQL at ${url.replace(/:[^:@/]*@/, ':***@')} (${(e as Error).message}). ` +
        'Start one and create the role (see .ci/run), or set OFFHOST_TEST_DATABASE_URL.',
    );
  } finally {
    await client.end().catch(() => {});
  }
  project.provide('postgresUrl', url);
}
