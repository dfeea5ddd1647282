// The integration project's PostgreSQL set-up on its own: with nothing reachable it starts a real
// throwaway server and takes it away completely; it reuses a server that answers; it never throws.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { binariesPackage, DATA_DIR_PREFIX, removeLeftovers, startThrowawayPostgres, type Binaries } from '../setup/postgres';
import { provisionTestPostgres } from './postgres-setup';

/** A port nothing listens on: bound and released by us, so no server is there. */
async function unusedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Processes whose parent is `pid` (the postmaster's backends and workers). */
function childrenOf(pid: number): number[] {
  return fs
    .readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        // Field 4 of /proc/<pid>/stat is the parent's pid (after "pid (comm) state").
        return Number(fs.readFileSync(`/proc/${d}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  await c.connect();
  try {
    return (await c.query<T>(sql)).rows;
  } finally {
    await c.end();
  }
}

describe('the PostgreSQL test set-up', () => {
  it('with no PostgreSQL reachable, starts a throwaway server, then removes it: no process, no directory', async () => {
    const port = await unusedPort();
    const lines: string[] = [];
    const pgs = await provisionTestPostgres({ OFFHOST_TEST_DEFAULT_DATABASE_URL: `postgres://offhost:offhost@127.0.0.1:${port}/offhost_test` }, (l) => lines.push(l));
    const server = pgs.server!;
    try {
      expect(pgs.error).toBeUndefined();
      expect(pgs.source).toBe('throwaway');
      expect(lines.join('\n')).toMatch(new RegExp(`nothing usable at postgres://offhost:\\*\\*\\*@127\\.0\\.0\\.1:${port}/offhost_test.*started a throwaway PostgreSQL 18`));
      expect(fs.existsSync(server.dir)).toBe(true);
      expect(alive(server.pid)).toBe(true);

      // A real server, as a role that may create databases but is not a superuser (like the Debian set-up).
      const [me] = await query<{ rolsuper: boolean; rolcreatedb: boolean; v: string }>(
        pgs.url!,
        `select rolsuper, rolcreatedb, current_setting('server_version_num') as v from pg_roles where rolname = current_user`,
      );
      expect(me).toEqual({ rolsuper: false, rolcreatedb: true, v: expect.stringMatching(/^18\d{4}$/) });
      await query(pgs.url!, 'CREATE DATABASE offhost_setup_probe');
      await query(pgs.url!, 'DROP DATABASE offhost_setup_probe');
      // Loopback only.
      expect((await query<{ a: string }>(pgs.url!, `select current_setting('listen_addresses') as a`))[0]!.a).toBe('127.0.0.1');
      expect(childrenOf(server.pid).length).toBeGreaterThan(0);
    } finally {
      await pgs.stop();
    }
    expect(alive(server.pid)).toBe(false);
    expect(childrenOf(server.pid)).toEqual([]);
    expect(fs.existsSync(server.dir)).toBe(false);
    await expect(query(pgs.url!, 'select 1')).rejects.toThrow(/ECONNREFUSED/);
  });

  it('uses a server that answers at the default address, and leaves it running', async () => {
    const other = await startThrowawayPostgres();
    try {
      const pgs = await provisionTestPostgres({ OFFHOST_TEST_DEFAULT_DATABASE_URL: other.url });
      expect(pgs).toMatchObject({ source: 'default address', url: other.url });
      expect(pgs.server).toBeUndefined();
      await pgs.stop();
      expect((await query<{ one: number }>(other.url, 'select 1 as one'))[0]!.one).toBe(1);
    } finally {
      await other.stop();
    }
  });

  it('does not throw when OFFHOST_TEST_DATABASE_URL points at nothing: it reports why, and starts nothing', async () => {
    const port = await unusedPort();
    const before = fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith(DATA_DIR_PREFIX)).length;
    const pgs = await provisionTestPostgres({ OFFHOST_TEST_DATABASE_URL: `postgres://offhost:secret@127.0.0.1:${port}/x` });
    expect(pgs.source).toBe('none');
    expect(pgs.url).toBeUndefined();
    expect(pgs.error).toMatch(new RegExp(`^OFFHOST_TEST_DATABASE_URL=postgres://offhost:\\*\\*\\*@127\\.0\\.0\\.1:${port}/x is not usable: .*ECONNREFUSED`));
    expect(pgs.error).not.toContain('secret');
    // (Other files may start servers concurrently; none was added by this call.)
    expect(fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith(DATA_DIR_PREFIX)).length).toBeLessThanOrEqual(before);
  });

  it('removes what a run that died left behind', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-leftovers-'));
    try {
      const dead = path.join(tmp, `${DATA_DIR_PREFIX}dead`);
      const live = path.join(tmp, `${DATA_DIR_PREFIX}live`);
      fs.mkdirSync(dead);
      fs.mkdirSync(live);
      // A pid that cannot be running (above the kernel's pid_max), and ours.
      fs.writeFileSync(path.join(dead, 'owner.json'), JSON.stringify({ pid: 2 ** 30 }));
      fs.writeFileSync(path.join(live, 'owner.json'), JSON.stringify({ pid: process.pid }));
      const lines: string[] = [];
      removeLeftovers((l) => lines.push(l), tmp);
      expect(fs.existsSync(dead)).toBe(false);
      expect(fs.existsSync(live)).toBe(true);
      expect(lines).toEqual([`removed the leftover ${dead} of a run that died (pid ${2 ** 30})`]);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it.runIf(process.getuid?.() === 0)('as root, runs binaries the "postgres" user cannot reach (a checkout under /root) from a copy', async () => {
    const mod = (await import(binariesPackage())) as Binaries;
    const native = path.dirname(path.dirname(mod.postgres));
    const privateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-private-')); // 0700, root's
    const copyRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-copies-'));
    fs.chmodSync(copyRoot, 0o755);
    let server;
    try {
      fs.cpSync(native, path.join(privateDir, 'native'), { recursive: true, verbatimSymlinks: true });
      const bins = { initdb: path.join(privateDir, 'native/bin/initdb'), postgres: path.join(privateDir, 'native/bin/postgres') };
      const lines: string[] = [];
      server = await startThrowawayPostgres({ binaries: bins, copyRoot, log: (l) => lines.push(l) });
      expect(lines.join('\n')).toContain(`the "postgres" user cannot reach ${path.join(privateDir, 'native')}; using a copy in ${copyRoot}/`);
      expect((await query<{ one: number }>(server.url, 'select 1 as one'))[0]!.one).toBe(1);
    } finally {
      await server?.stop();
      fs.rmSync(privateDir, { recursive: true, force: true });
      fs.rmSync(copyRoot, { recursive: true, force: true });
    }
  });
});
