// Issue 12 item 1: the desktop's secret store (main/secrets/store.ts) with a safeStorage double
// that really encrypts (AES-256-GCM with a key only it holds), on real files; and that secrets
// never reach the renderer: only main imports the store, and no API result carries it.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { protectionOf, SecretStore, type SafeStorageLike } from '../../main/secrets/store';
import { LAYERS, sourceFiles } from './layering';

/** A stand-in keychain: real encryption with a key the test never writes anywhere. */
function keychain(o: { available?: boolean; backend?: string; rotate?: boolean } = {}): SafeStorageLike & { key: Buffer } {
  const key = randomBytes(32);
  return {
    key,
    isAsyncEncryptionAvailable: async () => o.available ?? true,
    getSelectedStorageBackend: () => o.backend ?? 'gnome_libsecret',
    async encryptStringAsync(text) {
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([c.update(text, 'utf8'), c.final()]);
      return Buffer.concat([Buffer.from('v10'), iv, c.getAuthTag(), body]);
    },
    async decryptStringAsync(data) {
      if (data.subarray(0, 3).toString() !== 'v10') throw new Error('not ours');
      const d = createDecipheriv('aes-256-gcm', key, data.subarray(3, 15));
      d.setAuthTag(data.subarray(15, 31));
      return { result: Buffer.concat([d.update(data.subarray(31)), d.final()]).toString('utf8'), shouldReEncrypt: o.rotate ?? false };
    },
  };
}

let dir: string;
let warnings: string[];
const URL_WITH_PASSWORD = 'postgres://offhost:s3cret-pässword@db.example.com:5432/offhost';

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-secrets-'));
  warnings = [];
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const open = (safe: SafeStorageLike | null, platform: NodeJS.Platform = 'linux') =>
  SecretStore.open({ file: path.join(dir, 'secrets.json'), safe, platform, warn: (m) => warnings.push(m) });

describe('which protection safeStorage gives', () => {
  it.each([
    ['linux', { backend: 'gnome_libsecret' }, 'keychain', 'gnome_libsecret'],
    ['linux', { backend: 'kwallet6' }, 'keychain', 'kwallet6'],
    ['linux', { backend: 'basic_text' }, 'plaintext', /basic_text/],
    ['linux', { backend: 'unknown' }, 'plaintext', /could not name/],
    ['linux', { available: false }, 'plaintext', /no keychain/],
    ['darwin', {}, 'keychain', 'macOS Keychain'],
    ['win32', {}, 'keychain', 'Windows DPAPI'],
    ['darwin', { available: false }, 'plaintext', /no keychain/],
  ] as const)('%s %j → %s', async (platform, o, kind, detail) => {
    const p = await protectionOf(keychain(o), platform);
    expect(p.kind).toBe(kind);
    if (p.kind === 'keychain') expect(p.backend).toBe(detail);
    else expect(p.reason).toMatch(detail as RegExp);
  });

  it('no safeStorage at all (plain Node) is the fallback', async () => {
    expect(await protectionOf(null)).toMatchObject({ kind: 'plaintext', reason: /not running in Electron/ });
  });
});

describe('SecretStore with a keychain', () => {
  it('stores only ciphertext, mode 0600, and reads the value back after a reopen', async () => {
    const safe = keychain();
    const s = await open(safe);
    expect(s.protection).toEqual({ kind: 'keychain', backend: 'gnome_libsecret' });
    await s.set('database-url', URL_WITH_PASSWORD);
    const text = fs.readFileSync(s.file, 'utf8');
    expect(text).not.toContain('s3cret');
    expect(text).not.toContain(Buffer.from(URL_WITH_PASSWORD).toString('base64').slice(0, 20));
    expect(JSON.parse(text).entries['database-url'].scheme).toBe('keychain');
    expect(fs.statSync(s.file).mode & 0o777).toBe(0o600);
    const again = await open(safe);
    expect(await again.get('database-url')).toBe(URL_WITH_PASSWORD);
    expect(again.names()).toEqual(['database-url']);
    expect(warnings).toEqual([]);
  });

  it('another keychain (another user, another machine) cannot read it: a clear error, not garbage', async () => {
    await (await open(keychain())).set('token', 'abc');
    await expect((await open(keychain())).get('token')).rejects.toThrow(/cannot be decrypted with the keychain.*save it again/);
  });

  it('a keychain entry when the keychain is gone says so', async () => {
    await (await open(keychain())).set('token', 'abc');
    const s = await open(keychain({ backend: 'basic_text' }));
    await expect(s.get('token')).rejects.toThrow(/encrypted with the OS keychain, which is not available now.*basic_text/);
  });

  it('re-encrypts when the keychain rotated its key', async () => {
    const safe = keychain({ rotate: true });
    const s = await open(safe);
    await s.set('token', 'abc');
    const before = fs.readFileSync(s.file, 'utf8');
    expect(await s.get('token')).toBe('abc');
    expect(fs.readFileSync(s.file, 'utf8')).not.toBe(before);
  });

  it('delete, missing names, and input checks', async () => {
    const s = await open(keychain());
    expect(await s.get('nothing')).toBeUndefined();
    await s.set('a', '1');
    expect(s.delete('a')).toBe(true);
    expect(s.delete('a')).toBe(false);
    await expect(s.set('Bad Name', 'x')).rejects.toThrow(/lowercase letters/);
    await expect(s.set('../x', 'x')).rejects.toThrow(/lowercase letters/);
    await expect(s.set('a', '')).rejects.toThrow(/non-empty/);
    await expect(s.set('a', 'x\0y')).rejects.toThrow(/NUL/);
    await expect(s.set('a', 'x'.repeat(64 * 1024 + 1))).rejects.toThrow(/64 KiB/);
  });

  it('a damaged or foreign file is refused with what to do', async () => {
    fs.writeFileSync(path.join(dir, 'secrets.json'), '{nope');
    await expect(open(keychain())).rejects.toThrow(/not valid JSON; move it away/);
    fs.writeFileSync(path.join(dir, 'secrets.json'), JSON.stringify({ version: 2, entries: {} }));
    await expect(open(keychain())).rejects.toThrow(/not one Offhost wrote/);
  });
});

describe('SecretStore without a keychain (file fallback)', () => {
  it("Linux 'basic_text': works, warns once naming the file and why, and keeps the file 0600", async () => {
    const s = await open(keychain({ backend: 'basic_text' }));
    await s.set('database-url', URL_WITH_PASSWORD);
    await s.set('token', 'abc');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('WITHOUT encryption');
    expect(warnings[0]).toContain(s.file);
    expect(warnings[0]).toContain('basic_text');
    expect(fs.statSync(s.file).mode & 0o777).toBe(0o600);
    expect(await s.get('database-url')).toBe(URL_WITH_PASSWORD);
    // The next run warns at open, since unencrypted secrets are on disk.
    warnings = [];
    await open(keychain({ backend: 'basic_text' }));
    expect(warnings).toHaveLength(1);
  });

  it('saving again once a keychain is there encrypts the value', async () => {
    await (await open(null)).set('token', 'abc');
    const s = await open(keychain());
    expect(await s.get('token')).toBe('abc'); // plaintext entries stay readable
    await s.set('token', 'abc');
    expect(JSON.parse(fs.readFileSync(s.file, 'utf8')).entries.token.scheme).toBe('keychain');
  });

  it('an existing file with a wider mode is narrowed to 0600 on write', async () => {
    fs.writeFileSync(path.join(dir, 'secrets.json'), JSON.stringify({ version: 1, entries: {} }), { mode: 0o644 });
    const s = await open(keychain());
    await s.set('a', '1');
    expect(fs.statSync(s.file).mode & 0o777).toBe(0o600);
  });
});

describe('secrets never reach the renderer', () => {
  const root = path.resolve(__dirname, '../..');
  it('only main/electron imports the store (not renderer, preload, shared, or the API handlers)', () => {
    const importers = LAYERS.flatMap((l) => sourceFiles(root, l))
      .filter((f) => /secrets\/store|electron\/secrets/.test(fs.readFileSync(f, 'utf8')))
      .map((f) => path.relative(root, f))
      .filter((f) => !f.startsWith('main/secrets/'));
    expect(importers.sort()).toEqual(['main/electron/main.ts', 'main/electron/secrets.ts']);
  });

  it('the preload bridge exposes no secret method', () => {
    const preload = fs.readFileSync(path.join(root, 'preload/index.ts'), 'utf8');
    expect(preload).not.toMatch(/secret|safeStorage/i);
  });
});
