// Issue 6 item 7: the packaging config sets Electron's fuses and packs only the built app.
// electron-builder cannot run here (it downloads Electron), so this reads the same YAML it reads,
// checks every key against electron-builder's own schema, and applies the `files` patterns the
// way electron-builder does (minimatch, dot: true, last matching pattern wins).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Minimatch } from 'minimatch';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';

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
