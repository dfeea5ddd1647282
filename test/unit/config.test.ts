import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { databaseConfig, defaultDataDir, describeDatabase, loadConfig } from '../../main/config';

describe('configuration', () => {
  it('defaults to SQLite in the data directory', () => {
    const c = loadConfig({ OFFHOST_DATA_DIR: '/data/offhost' });
    expect(c.database).toEqual({ kind: 'sqlite', file: '/data/offhost/offhost.db' });
    expect([c.host, c.port, c.environmentsFile, c.token]).toEqual(['127.0.0.1', 3939, null, null]);
  });

  it('uses the same per-user folder Electron uses for productName "Offhost"', () => {
    expect(defaultDataDir({ XDG_CONFIG_HOME: '/home/a/.config' }, 'linux')).toBe('/home/a/.config/Offhost');
    expect(defaultDataDir({ APPDATA: 'C:\\Users\\a\\AppData\\Roaming' }, 'win32')).toBe(path.join('C:\\Users\\a\\AppData\\Roaming', 'Offhost'));
    expect(defaultDataDir({}, 'darwin')).toMatch(/Library\/Application Support\/Offhost$/);
  });

  it('picks PostgreSQL from DATABASE_URL or the PG* variables', () => {
    expect(databaseConfig({ DATABASE_URL: 'postgres://u:p@db/offhost' }, '/d')).toEqual({ kind: 'postgres', url: 'postgres://u:p@db/offhost' });
    expect(databaseConfig({ DATABASE_URL: 'postgresql://db/x' }, '/d').kind).toBe('postgres');
    expect(databaseConfig({ PGHOST: 'db' }, '/d')).toEqual({ kind: 'postgres' });
    expect(databaseConfig({ DATABASE_URL: 'sqlite:/var/lib/offhost.db' }, '/d')).toEqual({ kind: 'sqlite', file: '/var/lib/offhost.db' });
    expect(databaseConfig({ OFFHOST_DB_FILE: '/x/y.db', OFFHOST_SQLITE_BINDING: '/n.node' }, '/d')).toEqual({ kind: 'sqlite', file: '/x/y.db', nativeBinding: '/n.node' });
  });

  it('rejects what it cannot use, saying why', () => {
    expect(() => databaseConfig({ DATABASE_URL: 'mysql://db' }, '/d')).toThrow(/must start with postgres:\/\/, postgresql:\/\/ or sqlite:, not "mysql:"/);
    expect(() => loadConfig({ OFFHOST_PORT: 'eighty' })).toThrow(/OFFHOST_PORT must be a port number/);
    expect(() => loadConfig({ OFFHOST_PORT: '70000' })).toThrow(/OFFHOST_PORT/);
  });

  it('never shows a database password', () => {
    expect(describeDatabase({ kind: 'postgres', url: 'postgres://user:secret@db:5432/offhost' })).toBe('postgres://user:***@db:5432/offhost');
    expect(describeDatabase({ kind: 'postgres' }, { PGHOST: 'db', PGDATABASE: 'o', PGPASSWORD: 'secret' })).not.toContain('secret');
  });
});
