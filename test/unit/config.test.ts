import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { databaseConfig, defaultDataDir, describeDatabase, loadConfig, redactUrl } from '../../main/config';

describe('configuration', () => {
  it('defaults to SQLite in the data directory', () => {
    const c = loadConfig({ OFFHOST_DATA_DIR: '/data/offhost' });
    expect(c.database).toEqual({ kind: 'sqlite', file: '/data/offhost/offhost.db' });
    expect([c.host, c.port, c.environmentsFile, c.publicUrl, c.trustProxy, c.allowedHosts]).toEqual(['127.0.0.1', 3939, null, null, false, []]);
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

  it('masks a password given as a query parameter too', () => {
    const shown = describeDatabase({ kind: 'postgres', url: 'postgres://user@db/offhost?password=hunter2&sslmode=require' });
    expect(shown).toBe('postgres://user@db/offhost?password=***&sslmode=require');
    expect(describeDatabase({ kind: 'postgres', url: 'postgres://u:p1@db/o?sslpassword=p2' })).not.toMatch(/p1|p2/);
  });

  it('reads the public URL, the proxies to trust and the extra host names', () => {
    const c = loadConfig({ OFFHOST_PUBLIC_URL: 'https://offhost.example.com/app', OFFHOST_TRUST_PROXY: '10.0.0.0/8, 127.0.0.1', OFFHOST_ALLOWED_HOSTS: 'Offhost.ns.svc, ,b' });
    expect(c.publicUrl?.toString()).toBe('https://offhost.example.com/app/');
    expect(c.trustProxy).toEqual(['10.0.0.0/8', '127.0.0.1']);
    expect(c.allowedHosts).toEqual(['offhost.ns.svc', 'b']);
    expect(loadConfig({ OFFHOST_TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(loadConfig({ OFFHOST_TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(loadConfig({ OFFHOST_TRUST_PROXY: 'false' }).trustProxy).toBe(false);
  });

  it.each([
    [{ OFFHOST_PUBLIC_URL: 'offhost.example.com' }, /absolute http\(s\) URL/],
    [{ OFFHOST_PUBLIC_URL: 'ftp://offhost.example.com/' }, /http:\/\/ or https:\/\//],
    [{ OFFHOST_PUBLIC_URL: 'https://u:p@offhost.example.com/' }, /credentials/],
    [{ OFFHOST_TRUST_PROXY: 'yes please' }, /OFFHOST_TRUST_PROXY.*"yes please"/],
  ])('refuses %j, saying why', (env, why) => {
    expect(() => loadConfig(env)).toThrow(why);
  });

  it.each([
    ['/?token=abc&x=1', '/?token=***&x=1'],
    ['/p?Password=a&api_key=b&key=c&keep=d', '/p?Password=***&api_key=***&key=***&keep=d'],
    ['/p?%74oken=abc', '/p?%74oken=***'],
    ['/plain', '/plain'],
    ['http://u:pw@h/x?secret=s', 'http://u:***@h/x?secret=***'],
  ])('redacts %s in logs', (url, shown) => {
    expect(redactUrl(url)).toBe(shown);
  });
});
