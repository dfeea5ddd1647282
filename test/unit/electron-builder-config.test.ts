// Issue 6 item 7 and issue 12 item 2: the packaging config sets Electron's fuses, packs only the
// built app, and makes the installers each platform wants, with our icons.
// electron-builder cannot run here (it downloads Electron), so this reads the same YAML it reads,
// checks every key against electron-builder's own schema, and applies the `files` patterns the
// way electron-builder does (minimatch, dot: true, last matching pattern wins).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Minimatch } from 'minimatch';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
// electron-builder's own validation (the same call `electron-builder` makes before packaging).
import { validateConfiguration } from 'app-builder-lib/out/util/config/config';
import { sourceFiles } from './layering';
import { buildIcons, ICNS_TYPES, ICO_SIZES, PNG_SIZES } from '../../build/icons.mjs';

const root = path.resolve(__dirname, '../..');
const config = parse(fs.readFileSync(path.join(root, 'build/electron-builder.yml'), 'utf8')) as Record<string, unknown>;
const scheme = JSON.parse(fs.readFileSync(path.join(root, 'node_modules/app-builder-lib/scheme.json'), 'utf8'));

/** electron-builder's filter (app-builder-lib/out/util/filter.js): inclusions and exclusions in order, the last that applies wins. */
function packaged(file: string): boolean {
  const patterns = (config.files as string[]).map((p) => new Minimatch(p, { dot: true }));
  let match = false;
  for (const p of patterns) if (match === p.negate) match = p.match(file);
  return match;
}

describe('build/electron-builder.yml', () => {
  it('uses only keys electron-builder knows (a typo would be ignored or fail only at packaging time)', () => {
    const known = Object.keys(scheme.properties);
    expect(known).toContain('electronFuses');
    expect(Object.keys(config).filter((k) => !known.includes(k))).toEqual([]);
    const fuseKeys = Object.keys(scheme.definitions.FuseOptionsV1.properties);
    expect(Object.keys(config.electronFuses as object).filter((k) => !fuseKeys.includes(k))).toEqual([]);
  });

  it('flips the fuses: no Node mode, no NODE_OPTIONS or inspector, encrypted cookies, app only from a verified asar, no file:// privileges', () => {
    expect(config.electronFuses).toMatchObject({
      runAsNode: false,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableCookieEncryption: true,
      onlyLoadAppFromAsar: true,
      enableEmbeddedAsarIntegrityValidation: true,
      grantFileProtocolExtraPrivileges: false, // safe: app:// reads with node:fs (main/electron/protocol.ts), never file://
    });
  });

  it('packs the app into an asar under our appId', () => {
    expect(config.asar).toBe(true);
    expect(config).not.toHaveProperty('asarUnpack');
    expect(config.appId).toBe('dev.offhost.desktop');
    expect(config.productName).toBe('Offhost');
    // build/dist.mjs verifies the fuses of the apps it finds there.
    expect((config.directories as { output?: string }).output).toBe('release');
  });

  it('packs no tracked source, test or config file except package.json', () => {
    const tracked = execFileSync('git', ['ls-files'], { cwd: root, encoding: 'utf8' }).split('\n').filter(Boolean);
    expect(tracked.length).toBeGreaterThan(50);
    for (const probe of ['test/unit/ipc-sender.test.ts', 'main/electron/main.ts', 'renderer/index.html', 'build/electron-builder.yml']) expect(tracked).toContain(probe);
    expect(tracked.filter(packaged)).toEqual(['package.json']);
  });

  it('packs the built app without source maps, including the entry point package.json names', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
    for (const file of [pkg.main, 'dist/main/electron.js', 'dist/preload/preload.cjs', 'dist/renderer/index.html', 'dist/renderer/assets/index-Dx3_a1.js'])
      expect(packaged(file), file).toBe(true);
    for (const file of ['dist/main/electron.js.map', 'dist/renderer/assets/index-Dx3_a1.js.map', '.env', 'test/e2e/app.test.ts', 'main/core.ts', 'shared/api.ts', 'node_modules/.bin/vitest'])
      expect(packaged(file), file).toBe(false);
  });

  it('the matcher itself tells included from excluded (so the checks above can fail)', () => {
    expect(packaged('package.json')).toBe(true);
    expect(packaged('dist/x.js')).toBe(true);
    expect(packaged('dist/x.js.map')).toBe(false);
  });
});

type Section = Record<string, unknown> & { target?: string[]; icon?: string };
const resources = path.join(root, 'build/resources');

/** Width and height from a PNG's IHDR chunk. */
function pngSize(data: Buffer): { width: number; height: number } {
  expect(data.subarray(1, 4).toString('latin1')).toBe('PNG');
  return { width: data.readUInt32BE(16), height: data.readUInt32BE(20) };
}

describe('build/electron-builder.yml: installers (issue 12)', () => {
  it("passes electron-builder's own schema validation, nested sections included (and a typo fails it)", async () => {
    const quiet = { isEnabled: false, add() {} } as never;
    await expect(validateConfiguration(structuredClone(config) as never, quiet)).resolves.toBeUndefined();
    const typo = { ...structuredClone(config), linux: { ...(config.linux as object), iconn: 'icons' } };
    await expect(validateConfiguration(typo as never, quiet)).rejects.toThrow(/does not match the API schema/);
  });

  it('targets: Linux AppImage, deb and rpm; macOS dmg; Windows nsis', () => {
    expect((config.linux as Section).target).toEqual(['AppImage', 'deb', 'rpm']);
    expect((config.mac as Section).target).toEqual(['dmg']);
    expect((config.win as Section).target).toEqual(['nsis']);
    expect((config.linux as Section).executableName).toBe('offhost');
    // The installer asks where to install, per user (no admin rights needed).
    expect(config.nsis).toMatchObject({ oneClick: false, perMachine: false, allowToChangeInstallationDirectory: true });
  });

  it('the Linux packages depend on libsecret, which safeStorage needs to reach the keychain', () => {
    expect((config.deb as Section).depends).toContain('libsecret-1-0');
    expect((config.rpm as Section).depends).toContain('libsecret');
  });

  it('auto-update is off: no publish provider, and no updater in the app', () => {
    expect(config).toHaveProperty('publish', null);
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
    expect(Object.keys({ ...pkg.dependencies, ...pkg.devDependencies })).not.toContain('electron-updater');
    const updaters = (['main', 'preload'] as const).flatMap((layer) => sourceFiles(root, layer)).filter((f) => /autoUpdater|electron-updater/.test(fs.readFileSync(f, 'utf8')));
    expect(updaters).toEqual([]);
  });

  it('better-sqlite3 for Electron: node_modules keeps the Node build; the Electron build ships where main.ts loads it', () => {
    expect(config.npmRebuild).toBe(false);
    expect(config.extraResources).toEqual([{ from: '${env.OFFHOST_SQLITE_BINDING}', to: 'native/better_sqlite3.node' }]);
    const electronMain = fs.readFileSync(path.join(root, 'main/electron/main.ts'), 'utf8');
    expect(electronMain).toContain("path.join(process.resourcesPath, 'native', 'better_sqlite3.node')");
    // build/dist.mjs hands the Electron build to electron-builder under that variable.
    expect(fs.readFileSync(path.join(root, 'build/dist.mjs'), 'utf8')).toContain('OFFHOST_SQLITE_BINDING: binding');
  });

  it('icons: each platform names a file that exists in build/resources', () => {
    const dir = path.join(resources, (config.linux as Section).icon!);
    expect(fs.readdirSync(dir).sort()).toEqual(PNG_SIZES.map((n) => `${n}x${n}.png`).sort());
    for (const n of PNG_SIZES) expect(pngSize(fs.readFileSync(path.join(dir, `${n}x${n}.png`))), `${n}x${n}.png`).toEqual({ width: n, height: n });
    expect((config.directories as { buildResources: string }).buildResources).toBe('build/resources');
    for (const f of [(config.mac as Section).icon, (config.win as Section).icon, (config.nsis as Section).installerIcon]) expect(fs.existsSync(path.join(resources, f as string)), String(f)).toBe(true);
    expect(pngSize(fs.readFileSync(path.join(resources, 'icon.png')))).toEqual({ width: 1024, height: 1024 });
  });

  it('icon.ico holds 16…256 px images, icon.icns 16…1024 px (read back from the files)', () => {
    const ico = fs.readFileSync(path.join(resources, 'icon.ico'));
    expect([ico.readUInt16LE(0), ico.readUInt16LE(2)]).toEqual([0, 1]); // reserved, type 1 = icon
    const count = ico.readUInt16LE(4);
    const sizes = Array.from({ length: count }, (_, i) => ico[6 + 16 * i] || 256).sort((a, b) => a - b);
    expect(sizes).toEqual(ICO_SIZES);
    const icns = fs.readFileSync(path.join(resources, 'icon.icns'));
    expect(icns.subarray(0, 4).toString('latin1')).toBe('icns');
    expect(icns.readUInt32BE(4)).toBe(icns.length);
    const types: Record<string, number> = {};
    for (let at = 8; at < icns.length; at += icns.readUInt32BE(at + 4)) types[icns.subarray(at, at + 4).toString('latin1')] = pngSize(icns.subarray(at + 8)).width;
    expect(types).toEqual(ICNS_TYPES);
  });

  it('the committed icons are what build/icons.mjs makes from icon.svg (run it after editing the SVG)', async () => {
    const made = (await buildIcons()) as Record<string, Buffer>;
    for (const [name, data] of Object.entries(made)) expect(fs.readFileSync(path.join(resources, name)).equals(data), `build/resources/${name} is stale: run node build/icons.mjs`).toBe(true);
  });
});
