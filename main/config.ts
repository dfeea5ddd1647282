// Configuration from the environment (and command-line flags for the server). Every variable is
// documented in README.md; nothing else is read from process.env.
import os from 'node:os';
import path from 'node:path';

export type DatabaseConfig =
  | { kind: 'sqlite'; file: string; /** better-sqlite3 built for another runtime (Electron). */ nativeBinding?: string }
  | { kind: 'postgres'; url?: string /* undefined: libpq's PG* variables */ };

export interface Config {
  dataDir: string;
  database: DatabaseConfig;
  environmentsFile: string | null;
  host: string;
  port: number;
  /** Login token for the browser URL; random per start unless set. */
  token: string | null;
  bodyLimitBytes: number;
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

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const dataDir = path.resolve(overrides.dataDir ?? env.OFFHOST_DATA_DIR ?? defaultDataDir(env));
  return {
    dataDir,
    database: overrides.database ?? databaseConfig(env, dataDir),
    environmentsFile: overrides.environmentsFile ?? (env.OFFHOST_ENVIRONMENTS_FILE ? path.resolve(env.OFFHOST_ENVIRONMENTS_FILE) : null),
    host: overrides.host ?? env.OFFHOST_HOST ?? '127.0.0.1',
    port: overrides.port ?? port(env.OFFHOST_PORT, 3939),
    token: overrides.token ?? env.OFFHOST_TOKEN ?? null,
    bodyLimitBytes: overrides.bodyLimitBytes ?? 1024 * 1024,
  };
}

/** For display: never show a password. */
export function describeDatabase(db: DatabaseConfig, env = process.env): string {
  if (db.kind === 'sqlite') return db.file;
  if (!db.url) return `postgres (PGHOST=${env.PGHOST ?? 'localhost'}, PGDATABASE=${env.PGDATABASE ?? env.PGUSER ?? ''})`;
  try {
    const u = new URL(db.url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres (unparsable URL)';
  }
}
