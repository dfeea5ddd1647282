// Configuration from the environment (and command-line flags for the server). Every variable is
// documented in README.md; nothing else is read from process.env.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { kubeSettingsFromEnv, type KubeSettings } from './kube/config';
import { metricsOptionsFromEnv, type MetricsOptions } from './metrics/options';
import { imageReferenceProblem } from '../shared/environment';

export type DatabaseConfig =
  | {
      kind: 'sqlite';
      file: string;
      /** better-sqlite3 built for another runtime (Electron). */
      nativeBinding?: string;
      /** How long a write waits for another process's lock before giving up (default 5000 ms). */
      busyTimeoutMs?: number;
    }
  | { kind: 'postgres'; url?: string /* undefined: libpq's PG* variables */ };

export interface Config {
  dataDir: string;
  database: DatabaseConfig;
  environmentsFile: string | null;
  host: string;
  port: number;
  /** The address people use to reach the server (behind an ingress: its https URL). Sets the
   *  host allowed in browser requests, the printed sign-in address, and `Secure` cookies. */
  publicUrl: URL | null;
  /** Further Host names browsers may use (DNS-rebinding guard); loopback names are always allowed. */
  allowedHosts: string[];
  /** Fastify's trustProxy: believe X-Forwarded-* from these hops (true, a hop count, or addresses/CIDRs). */
  trustProxy: boolean | number | string[];
  bodyLimitBytes: number;
  /** Bundle uploads: the archive's size, and its size once decompressed (OFFHOST_BUNDLE_MAX_*). */
  bundleLimits: { maxBytes: number; maxExpandedBytes: number };
  /** The cluster content runs on (OFFHOST_KUBECONFIG / KUBECONFIG / in a pod); null: none configured. */
  kube: KubeSettings | null;
  /** An admin API key (its value) the server makes sure exists at start; null: none. */
  bootstrapAdminKey: string | null;
  /** The metrics sampler's interval and retention (OFFHOST_METRICS_*; main/metrics/options.ts). */
  metrics: MetricsOptions;
  /** The content volume (README "How content runs"): its claim, and where this server mounts it (mounted mode). */
  contentVolume: ContentVolumeConfig;
}

export interface ContentVolumeConfig {
  /** OFFHOST_CONTENT_CLAIM: the PersistentVolumeClaim job pods mount; null: none (jobs cannot run content). */
  claim: string | null;
  /** OFFHOST_CONTENT_VOLUME: where this server has that claim mounted (in-cluster); null: desktop mode, files are copied through the API. */
  mountPath: string | null;
  /** OFFHOST_STORE_IMAGE: the image of the store pod that holds the claim in desktop (copied) mode. */
  storeImage: string | null;
}

const CLAIM_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function contentVolumeConfig(env: NodeJS.ProcessEnv): ContentVolumeConfig {
  const claim = env.OFFHOST_CONTENT_CLAIM?.trim() || null;
  const mount = env.OFFHOST_CONTENT_VOLUME?.trim() || null;
  if (claim !== null && (claim.length > 253 || !CLAIM_NAME.test(claim)))
    throw new Error(`OFFHOST_CONTENT_CLAIM must be a PersistentVolumeClaim name (lowercase letters, digits, "-" and ".", at most 253 characters), not ${JSON.stringify(claim)}`);
  if (mount !== null && claim === null)
    throw new Error('OFFHOST_CONTENT_VOLUME says where the content claim is mounted, but OFFHOST_CONTENT_CLAIM (the claim job pods mount) is not set; set both');
  if (mount !== null && !path.isAbsolute(mount)) throw new Error(`OFFHOST_CONTENT_VOLUME must be an absolute path (where the content claim is mounted), not ${JSON.stringify(mount)}`);
  const storeImage = env.OFFHOST_STORE_IMAGE?.trim() || null;
  const imageProblem = storeImage === null ? undefined : imageReferenceProblem(storeImage);
  if (imageProblem) throw new Error(`OFFHOST_STORE_IMAGE: ${imageProblem}`);
  return { claim, mountPath: mount === null ? null : path.resolve(mount), storeImage };
}

/** Where Electron keeps app data for productName "Offhost"; the server uses the same place. */
export function defaultDataDir(env = process.env, platform = process.platform): string {
  const home = os.homedir();
  if (platform === 'darwin') return path.join(home, 'Library', 'Application Support', 'Offhost');
  if (platform === 'win32') return path.join(env.APPDATA ?? path.join(home, 'AppData', 'Roaming'), 'Offhost');
  return path.join(env.XDG_CONFIG_HOME ?? path.join(home, '.config'), 'Offhost');
}

export function databaseConfig(env: NodeJS.ProcessEnv, dataDir: string): DatabaseConfig {
  const url = env.DATABASE_URL?.trim();
  const binding = env.OFFHOST_SQLITE_BINDING ? { nativeBinding: env.OFFHOST_SQLITE_BINDING } : {};
  if (url) {
    if (/^postgres(ql)?:\/\//.test(url)) return { kind: 'postgres', url };
    if (url.startsWith('sqlite:')) return { kind: 'sqlite', file: path.resolve(url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '')), ...binding };
    throw new Error(`DATABASE_URL must start with postgres://, postgresql:// or sqlite:, not ${JSON.stringify(url.split(':')[0] + ':')}`);
  }
  if (env.PGHOST || env.PGDATABASE) return { kind: 'postgres' };
  return { kind: 'sqlite', file: path.resolve(env.OFFHOST_DB_FILE ?? path.join(dataDir, 'offhost.db')), ...binding };
}

function port(text: string | undefined, fallback: number): number {
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`OFFHOST_PORT must be a port number (0-65535), not ${JSON.stringify(text)}`);
  return n;
}

function list(text: string | undefined): string[] {
  return (text ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

export function parsePublicUrl(text: string | undefined): URL | null {
  if (!text?.trim()) return null;
  let u: URL;
  try {
    u = new URL(text.trim());
  } catch {
    throw new Error(`The public URL (OFFHOST_PUBLIC_URL, --url) must be an absolute http(s) URL such as https://offhost.example.com/, not ${JSON.stringify(text)}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`OFFHOST_PUBLIC_URL must start with http:// or https://, not ${JSON.stringify(u.protocol)}`);
  if (u.username || u.password || u.search || u.hash) throw new Error('OFFHOST_PUBLIC_URL must not carry credentials, a query or a fragment');
  if (!u.pathname.endsWith('/')) u.pathname += '/';
  return u;
}

function trustProxy(text: string | undefined): Config['trustProxy'] {
  const t = text?.trim() ?? '';
  if (t === '' || t === 'false') return false;
  if (t === 'true') return true;
  if (/^\d+$/.test(t)) return Number(t);
  const entries = list(t);
  for (const e of entries)
    if (!/^[0-9a-fA-F.:]+(\/\d{1,3})?$/.test(e))
      throw new Error(`OFFHOST_TRUST_PROXY must be true, false, a hop count, or a comma-separated list of proxy addresses/CIDRs; ${JSON.stringify(e)} is none of these`);
  return entries;
}

/** A positive whole number of bytes from the environment, or the default. */
function byteCount(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const text = env[name]?.trim();
  if (!text) return fallback;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${name} must be a positive whole number of bytes, not ${JSON.stringify(text)}`);
  return n;
}

/**
 * The secrets the server takes. Each may come from its variable or, for a mounted Kubernetes
 * Secret, from NAME_FILE: a path whose contents (trimmed) are the value. (PostgreSQL's own PG*
 * variables have PGPASSFILE for the same purpose.)
 */
export const SECRET_VARIABLES = ['DATABASE_URL', 'OFFHOST_BOOTSTRAP_ADMIN_KEY'] as const;
const MAX_SECRET_FILE_BYTES = 64 * 1024;

/**
 * The environment with each NAME_FILE of SECRET_VARIABLES read into NAME. Refuses both set, and a
 * file that is missing, not a regular file, unreadable, larger than 64 KiB or blank — each with
 * one line naming the variable and the file.
 */
export function resolveSecretFiles(env: NodeJS.ProcessEnv, read: (file: string) => Buffer = fs.readFileSync, stat: (file: string) => fs.Stats = fs.statSync): NodeJS.ProcessEnv {
  const out = { ...env };
  for (const name of SECRET_VARIABLES) {
    const fileVar = `${name}_FILE`;
    const file = env[fileVar]?.trim();
    if (!file) continue;
    if (env[name]?.trim()) throw new Error(`Set ${name} or ${fileVar}, not both`);
    const where = `${fileVar}=${file}`;
    let st: fs.Stats;
    try {
      st = stat(file);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new Error(code === 'ENOENT' ? `${where}: the file does not exist` : code === 'EACCES' ? `${where}: the file cannot be reached (permission denied)` : `${where}: ${(e as Error).message}`);
    }
    if (!st.isFile()) throw new Error(`${where}: not a regular file${st.isDirectory() ? ' (a directory: name the file inside it, e.g. the Secret key)' : ''}`);
    if (st.size > MAX_SECRET_FILE_BYTES) throw new Error(`${where}: the file is ${st.size} bytes; a secret file holds at most ${MAX_SECRET_FILE_BYTES} bytes`);
    let text: string;
    try {
      text = read(file).toString('utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new Error(code === 'EACCES' ? `${where}: the file cannot be read by this user${typeof process.getuid === 'function' ? ` (uid ${process.getuid()})` : ''}` : `${where}: ${(e as Error).message}`);
    }
    const value = text.trim();
    if (!value) throw new Error(`${where}: the file is empty`);
    out[name] = value;
    delete out[fileVar];
  }
  return out;
}

/** The admin API key the server makes sure exists at start (OFFHOST_BOOTSTRAP_ADMIN_KEY[_FILE]). */
export function bootstrapAdminKey(env: NodeJS.ProcessEnv): string | null {
  const key = env.OFFHOST_BOOTSTRAP_ADMIN_KEY?.trim();
  if (!key) return null;
  if (!/^ohk_[A-Za-z0-9_-]{32,190}$/.test(key))
    throw new Error('OFFHOST_BOOTSTRAP_ADMIN_KEY must look like an Offhost API key: "ohk_" and 32-190 letters, digits, "-" or "_" (e.g. ohk_$(head -c 32 /dev/urandom | base64 | tr -d "=+/\\n"))');
  return key;
}

export function loadConfig(rawEnv: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const env = resolveSecretFiles(rawEnv);
  const dataDir = path.resolve(overrides.dataDir ?? env.OFFHOST_DATA_DIR ?? defaultDataDir(env));
  return {
    dataDir,
    database: overrides.database ?? databaseConfig(env, dataDir),
    environmentsFile: overrides.environmentsFile ?? (env.OFFHOST_ENVIRONMENTS_FILE ? path.resolve(env.OFFHOST_ENVIRONMENTS_FILE) : null),
    host: overrides.host ?? env.OFFHOST_HOST ?? '127.0.0.1',
    port: overrides.port ?? port(env.OFFHOST_PORT, 3939),
    publicUrl: overrides.publicUrl !== undefined ? overrides.publicUrl : parsePublicUrl(env.OFFHOST_PUBLIC_URL),
    allowedHosts: overrides.allowedHosts ?? list(env.OFFHOST_ALLOWED_HOSTS).map((h) => h.toLowerCase()),
    trustProxy: overrides.trustProxy ?? trustProxy(env.OFFHOST_TRUST_PROXY),
    bodyLimitBytes: overrides.bodyLimitBytes ?? 1024 * 1024,
    bundleLimits: overrides.bundleLimits ?? {
      maxBytes: byteCount(env, 'OFFHOST_BUNDLE_MAX_BYTES', 1024 ** 3),
      maxExpandedBytes: byteCount(env, 'OFFHOST_BUNDLE_MAX_EXPANDED_BYTES', 4 * 1024 ** 3),
    },
    kube: overrides.kube !== undefined ? overrides.kube : kubeSettingsFromEnv(env),
    contentVolume: overrides.contentVolume ?? contentVolumeConfig(env),
    bootstrapAdminKey: overrides.bootstrapAdminKey !== undefined ? overrides.bootstrapAdminKey : bootstrapAdminKey(env),
    metrics: overrides.metrics ?? metricsOptionsFromEnv(env),
  };
}

/** For display: never show a password. */
export function describeDatabase(db: DatabaseConfig, env = process.env): string {
  if (db.kind === 'sqlite') return db.file;
  if (!db.url) return `postgres (PGHOST=${env.PGHOST ?? 'localhost'}, PGDATABASE=${env.PGDATABASE ?? env.PGUSER ?? ''})`;
  return redactUrl(db.url);
}

/** Query parameters that carry secrets, wherever a URL is shown or logged. */
const SECRET_PARAMS = /^(token|password|passwd|pass|pwd|key|api_?key|secret|sslpassword|access_token|auth)$/i;

/** A URL (absolute, or a request path) with its password and secret query values replaced by ***. */
export function redactUrl(url: string): string {
  if (!/^[a-z][a-z0-9+.-]*:/i.test(url)) {
    const q = url.indexOf('?');
    return q < 0 ? url : url.slice(0, q + 1) + redactQuery(url.slice(q + 1));
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `${url.split(':')[0]}: (unparsable URL)`;
  }
  if (u.password) u.password = '***';
  const q = u.search.slice(1);
  u.search = '';
  return u.toString().replace('%2A%2A%2A', '***') + (q ? `?${redactQuery(q)}` : '');
}

function redactQuery(query: string): string {
  return query
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = eq < 0 ? pair : pair.slice(0, eq);
      let decoded = name;
      try {
        decoded = decodeURIComponent(name.replace(/\+/g, ' '));
      } catch {
        // keep the raw name
      }
      return SECRET_PARAMS.test(decoded.trim()) ? `${name}=***` : pair;
    })
    .join('&');
}
