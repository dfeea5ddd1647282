// Secrets the desktop app keeps between runs (a database URL with its password, stored tokens),
// encrypted with the OS keychain through Electron's safeStorage. This module is the logic, with no
// `electron` import so it runs and is tested under plain Node; main/electron/secrets.ts adapts
// Electron's safeStorage to the Keychain interface below. Secrets stay in main: nothing in
// shared/api.ts returns them, and the renderer never imports this file (test/unit/secrets.test.ts).
//
// One JSON file (mode 0600, written atomically) maps a name to { scheme, data }:
//   scheme 'keychain'  data = base64 of safeStorage's ciphertext (macOS Keychain, Windows DPAPI,
//                      libsecret / KWallet on Linux)
//   scheme 'plaintext' data = base64 of the UTF-8 value: the fallback where the OS offers no
//                      keychain (safeStorage unavailable, or Linux's 'basic_text' backend, whose
//                      key is a constant in Chromium's source and so protects nothing). A warning
//                      says so once per run, naming the file.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** What the store needs from Electron's safeStorage (its asynchronous API). */
export interface SafeStorageLike {
  isAsyncEncryptionAvailable(): Promise<boolean>;
  encryptStringAsync(plainText: string): Promise<Buffer>;
  decryptStringAsync(encrypted: Buffer): Promise<{ result: string; shouldReEncrypt: boolean }>;
  /** Linux only. */
  getSelectedStorageBackend?(): string;
}

export type Protection = { kind: 'keychain'; backend: string } | { kind: 'plaintext'; reason: string };

/** Whether safeStorage really protects secrets here, and if not, why (for the warning). */
export async function protectionOf(safe: SafeStorageLike | null, platform: NodeJS.Platform = process.platform): Promise<Protection> {
  if (!safe) return { kind: 'plaintext', reason: 'Electron safeStorage is not available (not running in Electron)' };
  let available = false;
  try {
    available = await safe.isAsyncEncryptionAvailable();
  } catch (e) {
    return { kind: 'plaintext', reason: `safeStorage failed: ${(e as Error).message}` };
  }
  if (!available) return { kind: 'plaintext', reason: 'the operating system offers no keychain to Electron safeStorage' };
  if (platform === 'linux') {
    const backend = safe.getSelectedStorageBackend?.() ?? 'unknown';
    if (backend === 'basic_text') return { kind: 'plaintext', reason: "no secret service (GNOME Keyring, KWallet) is running: safeStorage would use its 'basic_text' backend, whose key is not secret" };
    if (backend === 'unknown') return { kind: 'plaintext', reason: 'safeStorage could not name a Linux password store' };
    return { kind: 'keychain', backend };
  }
  return { kind: 'keychain', backend: platform === 'darwin' ? 'macOS Keychain' : platform === 'win32' ? 'Windows DPAPI' : platform };
}

type Entry = { scheme: 'keychain' | 'plaintext'; data: string; updated: string };
interface FileShape {
  version: 1;
  entries: Record<string, Entry>;
}

const NAME = /^[a-z][a-z0-9._-]{0,63}$/;
export const MAX_SECRET_BYTES = 64 * 1024;

export class SecretError extends Error {
  constructor(message: string, readonly field?: string) {
    super(message);
    this.name = 'SecretError';
  }
}

export interface SecretStoreOptions {
  file: string;
  safe: SafeStorageLike | null;
  platform?: NodeJS.Platform;
  /** Told once per run, on the first write without a keychain (and at open when plaintext entries exist). */
  warn: (message: string) => void;
  now?: () => Date;
}

export class SecretStore {
  private constructor(
    readonly file: string,
    readonly protection: Protection,
    private readonly safe: SafeStorageLike | null,
    private readonly warnOnce: () => void,
    private readonly now: () => Date,
  ) {}

  static async open(o: SecretStoreOptions): Promise<SecretStore> {
    const protection = await protectionOf(o.safe, o.platform);
    let warned = false;
    const warnOnce = () => {
      if (warned || protection.kind === 'keychain') return;
      warned = true;
      o.warn(`Secrets are stored WITHOUT encryption in ${o.file} (readable only by your user account, mode 0600): ${protection.reason}. Start a keychain (e.g. gnome-keyring or KWallet) and save them again to encrypt them.`);
    };
    const store = new SecretStore(path.resolve(o.file), protection, o.safe, warnOnce, o.now ?? (() => new Date()));
    const entries = Object.values(store.read().entries);
    if (entries.some((e) => e.scheme === 'plaintext')) warnOnce();
    return store;
  }

  names(): string[] {
    return Object.keys(this.read().entries).sort();
  }

  /** The value, or undefined when none is stored. Throws when it was encrypted by a keychain that cannot decrypt it now. */
  async get(name: string): Promise<string | undefined> {
    checkName(name);
    const file = this.read();
    const entry = file.entries[name];
    if (!entry) return undefined;
    const bytes = Buffer.from(entry.data, 'base64');
    if (entry.scheme === 'plaintext') return bytes.toString('utf8');
    if (!this.safe || this.protection.kind !== 'keychain')
      throw new SecretError(`The secret "${name}" was encrypted with the OS keychain, which is not available now (${this.protection.kind === 'plaintext' ? this.protection.reason : ''}); unlock the keychain, or save the secret again.`, name);
    let decrypted: { result: string; shouldReEncrypt: boolean };
    try {
      decrypted = await this.safe.decryptStringAsync(bytes);
    } catch (e) {
      throw new SecretError(`The secret "${name}" cannot be decrypted with the keychain (${(e as Error).message}); save it again.`, name);
    }
    // The keychain's key was rotated: store it under the new key.
    if (decrypted.shouldReEncrypt) await this.set(name, decrypted.result);
    return decrypted.result;
  }

  async set(name: string, value: string): Promise<void> {
    checkName(name);
    if (typeof value !== 'string' || value.length === 0) throw new SecretError(`The secret "${name}" must be a non-empty string.`, name);
    if (value.includes('\0')) throw new SecretError(`The secret "${name}" must not contain NUL characters.`, name);
    if (Buffer.byteLength(value) > MAX_SECRET_BYTES) throw new SecretError(`The secret "${name}" is over ${MAX_SECRET_BYTES / 1024} KiB.`, name);
    let entry: Entry;
    if (this.safe && this.protection.kind === 'keychain') {
      entry = { scheme: 'keychain', data: (await this.safe.encryptStringAsync(value)).toString('base64'), updated: this.now().toISOString() };
    } else {
      this.warnOnce();
      entry = { scheme: 'plaintext', data: Buffer.from(value, 'utf8').toString('base64'), updated: this.now().toISOString() };
    }
    const file = this.read();
    file.entries[name] = entry;
    this.write(file);
  }

  delete(name: string): boolean {
    checkName(name);
    const file = this.read();
    if (!(name in file.entries)) return false;
    delete file.entries[name];
    this.write(file);
    return true;
  }

  private read(): FileShape {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, entries: {} };
      throw new SecretError(`Cannot read the secrets file ${this.file}: ${(e as Error).message}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new SecretError(`The secrets file ${this.file} is not valid JSON; move it away to start with no saved secrets.`);
    }
    if (!isFileShape(parsed)) throw new SecretError(`The secrets file ${this.file} is not one Offhost wrote (version 1 with entries); move it away to start with no saved secrets.`);
    return parsed;
  }

  private write(data: FileShape): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      fs.writeFileSync(tmp, JSON.stringify(data, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
      fs.renameSync(tmp, this.file);
    } catch (e) {
      fs.rmSync(tmp, { force: true });
      throw new SecretError(`Cannot write the secrets file ${this.file}: ${(e as Error).message}`);
    }
    // An older file may have been made with a wider mode.
    fs.chmodSync(this.file, 0o600);
  }
}

function checkName(name: string): void {
  if (typeof name !== 'string' || !NAME.test(name))
    throw new SecretError(`A secret's name is 1-64 lowercase letters, digits, ".", "_" or "-", starting with a letter, not ${JSON.stringify(String(name).slice(0, 80))}.`, 'name');
}

function isFileShape(v: unknown): v is FileShape {
  if (!v || typeof v !== 'object') return false;
  const f = v as { version?: unknown; entries?: unknown };
  if (f.version !== 1 || !f.entries || typeof f.entries !== 'object' || Array.isArray(f.entries)) return false;
  return Object.entries(f.entries as Record<string, unknown>).every(
    ([k, e]) => NAME.test(k) && !!e && typeof e === 'object' && ((e as Entry).scheme === 'keychain' || (e as Entry).scheme === 'plaintext') && typeof (e as Entry).data === 'string',
  );
}

/** The names the desktop app uses. */
export const SECRET_NAMES = {
  /** A PostgreSQL URL with its password (used when DATABASE_URL is not set). */
  databaseUrl: 'database-url',
} as const;
