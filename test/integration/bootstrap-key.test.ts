// Issue 12: the chart's API-key bootstrap Secret. OFFHOST_BOOTSTRAP_ADMIN_KEY(_FILE) makes sure an
// admin key exists at start — on both backends, idempotent, rotated when the Secret changes, safe
// when two replicas start together — and the built server, given only files (DATABASE_URL_FILE,
// OFFHOST_BOOTSTRAP_ADMIN_KEY_FILE, as the chart mounts them), answers that key as an admin.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ApiKeys, BOOTSTRAP_ACTOR } from '../../main/auth/api-keys';
import { BACKENDS, freshStore } from './backends';

const newKey = () => `ohk_${randomBytes(32).toString('base64url')}`;

describe.each(BACKENDS)('bootstrap admin key ($name)', (backend) => {
  it('creates it once for user "admin", replaces it when the value changes, and survives a race', async () => {
    const store = await freshStore(backend);
    try {
      const keys = new ApiKeys(store.db);
      const first = newKey();
      expect(await keys.ensureBootstrap(first)).toBe(true);
      expect(await keys.ensureBootstrap(first)).toBe(false);
      const info = await keys.verify(first);
      expect(info).toMatchObject({ role: 'admin', name: 'bootstrap', createdBy: BOOTSTRAP_ACTOR, user: { username: 'admin', user_role: 'admin' } });

      // A key made by hand is left alone by a rotation.
      const manual = await keys.create('ci', 'publisher', 'cli:test');
      const second = newKey();
      expect(await keys.ensureBootstrap(second)).toBe(true);
      expect(await keys.verify(first)).toBeUndefined();
      expect(await keys.verify(second)).toMatchObject({ role: 'admin' });
      expect(await keys.verify(manual.key)).toMatchObject({ role: 'publisher' });

      // Two replicas starting at once with a new Secret value: one bootstrap row in the end.
      const third = newKey();
      const results = await Promise.allSettled([new ApiKeys(store.db).ensureBootstrap(third), new ApiKeys(store.db).ensureBootstrap(third)]);
      expect(results.some((r) => r.status === 'fulfilled')).toBe(true);
      await keys.ensureBootstrap(third); // whichever lost the race converges on the next start
      const rows = (await keys.list()).filter((k) => k.createdBy === BOOTSTRAP_ACTOR);
      expect(rows).toHaveLength(1);
      expect(await keys.verify(third)).toMatchObject({ role: 'admin' });
    } finally {
      await store.close();
    }
  });

  it('refuses a value that is not an Offhost key', async () => {
    const store = await freshStore(backend);
    try {
      await expect(new ApiKeys(store.db).ensureBootstrap('hunter2')).rejects.toThrow(/must start with ohk_/);
    } finally {
      await store.close();
    }
  });
});

describe('the built server with its secrets in files (as the Helm chart mounts them)', () => {
  it('reads DATABASE_URL_FILE and OFFHOST_BOOTSTRAP_ADMIN_KEY_FILE; the key works at once', async () => {
    const root = path.resolve(__dirname, '../..');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-bootstrap-'));
    const secrets = path.join(dir, 'secrets');
    fs.mkdirSync(secrets);
    const key = newKey();
    fs.writeFileSync(path.join(secrets, 'admin-key'), `${key}\n`, { mode: 0o400 });
    fs.writeFileSync(path.join(secrets, 'database-url'), `sqlite:${path.join(dir, 'data', 'offhost.db')}\n`, { mode: 0o400 });
    fs.mkdirSync(path.join(dir, 'data'));
    const child = spawn(process.execPath, [path.join(root, 'dist/main/server.js'), '--port', '0'], {
      env: {
        ...process.env,
        OFFHOST_DATA_DIR: path.join(dir, 'data'),
        DATABASE_URL: '',
        DATABASE_URL_FILE: path.join(secrets, 'database-url'),
        OFFHOST_BOOTSTRAP_ADMIN_KEY_FILE: path.join(secrets, 'admin-key'),
        OFFHOST_ENVIRONMENTS_FILE: '',
        OFFHOST_LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    try {
      const base = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`not listening after 20 s:\n${out}`)), 20_000);
        child.stdout!.on('data', () => {
          const m = /"url":"(http:\/\/127\.0\.0\.1:\d+\/?)"/.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]!.replace(/\/$/, ''));
          }
        });
        child.once('exit', (code) => reject(new Error(`exited with ${code}:\n${out}`)));
      });
      const me = await fetch(`${base}/__api__/v1/user`, { headers: { Authorization: `Key ${key}` } });
      expect(me.status).toBe(200);
      expect(await me.json()).toMatchObject({ username: 'admin', user_role: 'administrator' });
      expect(out).toContain('bootstrap admin API key stored');
      expect(out).not.toContain(key);
      expect(fs.existsSync(path.join(dir, 'data', 'offhost.db'))).toBe(true);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a missing secret file stops the start with one line naming it', async () => {
    const root = path.resolve(__dirname, '../..');
    const child = spawn(process.execPath, [path.join(root, 'dist/main/server.js'), '--port', '0'], {
      env: { ...process.env, DATABASE_URL: '', DATABASE_URL_FILE: '/nonexistent/offhost/database-url' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    const code = await new Promise((r) => child.once('exit', r));
    expect(code).toBe(1);
    expect(err.trim()).toBe('offhost: DATABASE_URL_FILE=/nonexistent/offhost/database-url: the file does not exist');
  });
});
