// `npx offhost …` as a person types it (the built CLI, a throwaway data directory): keys need an
// explicit role, ids are checked, sign-in addresses and sessions are managed from the shell, and a
// data directory that can't be written says so, naming the file.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sessions } from '../../main/auth/session';
import { openStore } from '../../main/store/db';

const root = path.resolve(__dirname, '../..');
const cliJs = path.join(root, 'dist/main/cli.js');
let dir: string;

function offhost(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [cliJs, ...args], {
    env: { ...process.env, OFFHOST_DATA_DIR: dir, DATABASE_URL: '', OFFHOST_PUBLIC_URL: '', ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  if (!fs.existsSync(cliJs)) throw new Error(`${cliJs} is missing: run "npm run build" (npm test does it first).`);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-cli-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('offhost key', () => {
  it('create needs --role, and only a real one', () => {
    const none = offhost(['key', 'create', '--name', 'ci']);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/Give the key's role: --role viewer\|publisher\|admin/);
    expect(offhost(['key', 'create', '--role', 'root']).stderr).toMatch(/--role must be one of viewer, publisher, admin, not "root"/);
    const ok = offhost(['key', 'create', '--role', 'viewer', '--name', 'ci']);
    expect(ok.code).toBe(0);
    expect(ok.stdout.trim()).toMatch(/^ohk_[\w-]{43}$/);
  });

  it('a key belongs to a user: --user names it (made with the role when new), and a user keeps one role', () => {
    const first = offhost(['key', 'create', '--role', 'publisher', '--name', 'laptop', '--user', 'dana']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/for user dana with role publisher/);
    expect(offhost(['key', 'create', '--role', 'publisher', '--name', 'ci', '--user', 'dana']).code).toBe(0);
    const clash = offhost(['key', 'create', '--role', 'admin', '--name', 'x', '--user', 'dana']);
    expect(clash.code).toBe(1);
    expect(clash.stderr).toMatch(/User "dana" has the publisher role, so a key for it cannot have the admin role/);
    expect(offhost(['key', 'create', '--role', 'viewer', '--user', 'Not Valid']).stderr).toMatch(/A username is 1 to 64 lowercase letters/);
    expect(offhost(['key', 'list']).stdout.match(/user dana/g)).toHaveLength(2);
  });

  it.each([[[]], [['']], [['0']], [['1e3']], [['two']], [[' ']], [['1.5']]])('revoke refuses %j', (arg) => {
    const r = offhost(['key', 'revoke', ...arg]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Give the number of the key \(as "offhost key list" shows it\)/);
  });

  it('revoke refuses an option-like argument', () => {
    const r = offhost(['key', 'revoke', '-1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Unknown option '-1'/);
  });

  it('revoke takes the number key list shows, and says when there is none', () => {
    const id = /^#(\d+)/m.exec(offhost(['key', 'list']).stdout)![1]!;
    expect(offhost(['key', 'revoke', `#${id}`]).code).toBe(0);
    expect(offhost(['key', 'revoke', id]).stderr).toMatch(new RegExp(`There is no key #${id}`));
  });
});

describe('offhost login and session', () => {
  it('prints single-use sign-in addresses for the configured server, and lists and revokes sessions', async () => {
    const a = offhost(['login'], { OFFHOST_PORT: '4100' });
    expect(a.code).toBe(0);
    expect(a.stdout.trim()).toMatch(/^http:\/\/127\.0\.0\.1:4100\/\?token=ohl_[\w-]{43}$/);
    expect(a.stderr).toMatch(/works once/);
    const b = offhost(['login', '--url', 'https://offhost.example.com/team']);
    expect(b.stdout.trim()).toMatch(/^https:\/\/offhost\.example\.com\/team\/\?token=ohl_/);
    expect(offhost(['login', '--url', 'offhost.example.com']).stderr).toMatch(/must be an absolute http\(s\) URL/);

    // Spend the first link as a browser would, then manage the session from the shell.
    const store = await openStore({ kind: 'sqlite', file: path.join(dir, 'offhost.db') });
    try {
      const signedIn = await new Sessions(store.db).signIn(new URL(a.stdout.trim()).searchParams.get('token')!);
      expect(signedIn?.session.createdBy).toMatch(/^cli:/);
      const list = offhost(['session', 'list']);
      expect(list.stdout).toMatch(new RegExp(`^#${signedIn!.session.id}\\tsigned in .* by cli:`, 'm'));
      expect(offhost(['session', 'revoke', 'x']).stderr).toMatch(/Give the number of the session/);
      expect(offhost(['session', 'revoke', String(signedIn!.session.id)]).code).toBe(0);
      expect(await new Sessions(store.db).verify(signedIn!.cookie)).toBeUndefined();
      expect(offhost(['session', 'revoke', '--all']).stderr).toMatch(/Signed out 0 session/);
    } finally {
      await store.close();
    }
  });
});

describe('a data directory that cannot be used', () => {
  it('stops with a clear error naming the database file', () => {
    const blocker = path.join(dir, 'not-a-dir');
    fs.writeFileSync(blocker, '');
    const r = offhost(['key', 'list'], { OFFHOST_DATA_DIR: path.join(blocker, 'data') });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`Cannot use the SQLite database ${path.join(blocker, 'data', 'offhost.db')}`);
    expect(r.stderr).toMatch(/writable by this user.*OFFHOST_DATA_DIR/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it.skipIf(process.getuid?.() === 0)('read-only: the same clear error (root ignores file modes, so this runs as a normal user)', () => {
    const ro = path.join(dir, 'read-only');
    fs.mkdirSync(ro, { mode: 0o555 });
    const r = offhost(['key', 'list'], { OFFHOST_DATA_DIR: ro });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`Cannot use the SQLite database ${path.join(ro, 'offhost.db')}`);
  });
});
