// Issue 12 item 1: the headless server reads its secrets from the environment or from NAME_FILE
// (a mounted Kubernetes Secret), on real files.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bootstrapAdminKey, loadConfig, resolveSecretFiles, SECRET_VARIABLES } from '../../main/config';

let dir: string;
beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-secret-files-'))));
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const file = (name: string, content: string | Buffer, mode = 0o600) => {
  const p = path.join(dir, name);
  fs.writeFileSync(p, content, { mode });
  return p;
};
const KEY = 'ohk_' + 'A'.repeat(43);

describe('*_FILE secrets', () => {
  it('covers every secret the server takes', () => {
    expect(SECRET_VARIABLES).toEqual(['DATABASE_URL', 'OFFHOST_BOOTSTRAP_ADMIN_KEY']);
  });

  it('DATABASE_URL_FILE: the trimmed contents become DATABASE_URL (a Secret key ends with a newline)', () => {
    const env = { DATABASE_URL_FILE: file('url', '  postgres://u:p%40ss@db:5432/offhost\n') };
    const config = loadConfig(env, { dataDir: dir, kube: null });
    expect(config.database).toEqual({ kind: 'postgres', url: 'postgres://u:p%40ss@db:5432/offhost' });
  });

  it('OFFHOST_BOOTSTRAP_ADMIN_KEY_FILE: read and validated', () => {
    expect(loadConfig({ OFFHOST_BOOTSTRAP_ADMIN_KEY_FILE: file('key', `${KEY}\n`) }, { dataDir: dir, kube: null }).bootstrapAdminKey).toBe(KEY);
    expect(loadConfig({}, { dataDir: dir, kube: null }).bootstrapAdminKey).toBeNull();
    expect(() => loadConfig({ OFFHOST_BOOTSTRAP_ADMIN_KEY_FILE: file('bad', 'password123') }, { dataDir: dir, kube: null })).toThrow(/must look like an Offhost API key/);
    expect(() => bootstrapAdminKey({ OFFHOST_BOOTSTRAP_ADMIN_KEY: 'ohk_short' })).toThrow(/ohk_/);
  });

  it('the plain variable still works, and leaves nothing else changed', () => {
    const env = { DATABASE_URL: 'postgres://x@y/z', OTHER: '1' };
    expect(resolveSecretFiles(env)).toEqual(env);
  });

  it('refuses both NAME and NAME_FILE', () => {
    expect(() => resolveSecretFiles({ DATABASE_URL: 'postgres://a@b/c', DATABASE_URL_FILE: file('u', 'postgres://x@y/z') })).toThrow('Set DATABASE_URL or DATABASE_URL_FILE, not both');
  });

  it('a missing file, a directory, an empty or blank file, a huge file: one line naming variable and path', () => {
    const missing = path.join(dir, 'nope');
    expect(() => resolveSecretFiles({ DATABASE_URL_FILE: missing })).toThrow(`DATABASE_URL_FILE=${missing}: the file does not exist`);
    expect(() => resolveSecretFiles({ DATABASE_URL_FILE: dir })).toThrow(/not a regular file \(a directory: name the file inside it/);
    expect(() => resolveSecretFiles({ DATABASE_URL_FILE: file('empty', '') })).toThrow(/DATABASE_URL_FILE=.*empty: the file is empty/);
    expect(() => resolveSecretFiles({ OFFHOST_BOOTSTRAP_ADMIN_KEY_FILE: file('blank', ' \n\t\n') })).toThrow(/the file is empty/);
    expect(() => resolveSecretFiles({ DATABASE_URL_FILE: file('big', Buffer.alloc(64 * 1024 + 1, 'a')) })).toThrow(/65537 bytes; a secret file holds at most 65536/);
  });

  it('an unreadable file says so (the read failing with EACCES, as for a non-root user)', () => {
    const p = file('locked', 'postgres://a@b/c');
    const eacces = () => Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
    expect(() => resolveSecretFiles({ DATABASE_URL_FILE: p }, () => { throw eacces(); })).toThrow(new RegExp(`DATABASE_URL_FILE=${p}: the file cannot be read by this user`));
    expect(() => resolveSecretFiles({ DATABASE_URL_FILE: p }, fs.readFileSync, () => { throw eacces(); })).toThrow(/cannot be reached \(permission denied\)/);
  });

  it('a symlink to the file works (Kubernetes mounts Secret keys as symlinks into ..data/)', () => {
    const real = file('real', 'postgres://a@b/c\n');
    fs.symlinkSync(real, path.join(dir, 'link'));
    expect(resolveSecretFiles({ DATABASE_URL_FILE: path.join(dir, 'link') }).DATABASE_URL).toBe('postgres://a@b/c');
  });
});
