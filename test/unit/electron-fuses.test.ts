// Issue 6 item 7: the fuses in build/electron-builder.yml really end up in the packaged binary.
// No Electron binary can be downloaded here, so each "binary" is a small file with a real fuse
// wire (the sentinel, version 1, length, then one byte per fuse, as Electron ships it). The fuses
// are flipped by electron-builder's own config mapping and @electron/fuses, exactly the two steps
// `npm run dist` runs; build/verify-fuses.mjs then reads them back.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { flipFuses, type FuseConfig } from '@electron/fuses';
import { parse } from 'yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fuseExpectations, packagedApps, verifyPackagedFuses } from '../../build/verify-fuses.mjs';

const require = createRequire(import.meta.url);
const root = path.resolve(__dirname, '../..');
const CONFIG = path.join(root, 'build/electron-builder.yml');
const SENTINEL = 'dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX';
// Electron's shipped defaults: RunAsNode on, cookie encryption off, NODE_OPTIONS on, inspect on,
// asar integrity off, only-asar off, V8 snapshot off, file:// privileges on.
const ELECTRON_DEFAULT_WIRE = '10110001';

function fakeElectron(file: string, wire = ELECTRON_DEFAULT_WIRE): Buffer {
  const bytes = Buffer.concat([Buffer.from('\x7fELF-padding-'.repeat(64)), Buffer.from(SENTINEL), Buffer.from([1, wire.length]), Buffer.from(wire), Buffer.from('-rest-of-binary'.repeat(64))]);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, bytes);
  return bytes;
}

/** What electron-builder does with electronFuses (app-builder-lib's PlatformPackager.generateFuseConfig, which uses no instance state). */
async function electronBuilderFuseConfig(): Promise<FuseConfig> {
  const { PlatformPackager } = require('app-builder-lib');
  return PlatformPackager.prototype.generateFuseConfig.call(null, parse(fs.readFileSync(CONFIG, 'utf8')).electronFuses);
}

let release: string;
beforeEach(() => {
  release = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-release-'));
});
afterEach(() => fs.rmSync(release, { recursive: true, force: true }));

const apps = () => ({
  linux: path.join(release, 'linux-unpacked', 'offhost'),
  windows: path.join(release, 'win-unpacked', 'Offhost.exe'),
  macApp: path.join(release, 'mac-arm64', 'Offhost.app'),
  macFramework: path.join(release, 'mac-arm64', 'Offhost.app', 'Contents', 'Frameworks', 'Electron Framework.framework', 'Electron Framework'),
});

describe('verifyPackagedFuses', () => {
  it('finds the packaged apps electron-builder leaves for Linux, Windows and macOS', () => {
    const a = apps();
    fakeElectron(a.linux);
    fakeElectron(a.windows);
    fakeElectron(a.macFramework);
    fs.writeFileSync(path.join(release, 'Offhost-0.1.0.AppImage'), 'not a directory');
    expect(packagedApps(release, { productName: 'Offhost', executableName: 'offhost' }).sort()).toEqual([a.linux, a.macApp, a.windows].sort());
  });

  it("refuses Electron's default fuses, naming each one", async () => {
    fakeElectron(apps().linux);
    const { problems } = await verifyPackagedFuses(release, CONFIG);
    expect(problems).toEqual(
      expect.arrayContaining([
        'linux-unpacked/offhost: RunAsNode is on, expected off',
        'linux-unpacked/offhost: EnableCookieEncryption is off, expected on',
        'linux-unpacked/offhost: EnableNodeOptionsEnvironmentVariable is on, expected off',
        'linux-unpacked/offhost: EnableNodeCliInspectArguments is on, expected off',
        'linux-unpacked/offhost: EnableEmbeddedAsarIntegrityValidation is off, expected on',
        'linux-unpacked/offhost: OnlyLoadAppFromAsar is off, expected on',
        'linux-unpacked/offhost: GrantFileProtocolExtraPrivileges is on, expected off',
      ]),
    );
  });

  it('accepts binaries flipped the way electron-builder flips them, and the flip touches only the wire', async () => {
    const a = apps();
    const before = fakeElectron(a.linux);
    fakeElectron(a.windows);
    fakeElectron(a.macFramework);
    const config = await electronBuilderFuseConfig();
    for (const app of [a.linux, a.windows, a.macApp]) await flipFuses(app, config);
    expect(await verifyPackagedFuses(release, CONFIG)).toEqual({ apps: expect.arrayContaining([a.linux, a.windows, a.macApp]), problems: [] });

    const after = fs.readFileSync(a.linux);
    const wireAt = before.indexOf(SENTINEL) + SENTINEL.length + 2;
    expect(after.subarray(wireAt, wireAt + 8).toString()).toBe('01001100'); // RunAsNode off … V8 snapshot unset (off), file:// privileges off
    expect(Buffer.concat([after.subarray(0, wireAt), after.subarray(wireAt + 8)])).toEqual(Buffer.concat([before.subarray(0, wireAt), before.subarray(wireAt + 8)]));
  });

  it('works with a newer Electron whose wire has more fuses than we set', async () => {
    fakeElectron(apps().linux, `${ELECTRON_DEFAULT_WIRE}1`);
    await flipFuses(apps().linux, await electronBuilderFuseConfig());
    expect((await verifyPackagedFuses(release, CONFIG)).problems).toEqual([]);
  });

  it('fails when one fuse was left alone, or when nothing was packaged', async () => {
    fakeElectron(apps().linux);
    const config = await electronBuilderFuseConfig();
    delete (config as Record<number, boolean>)[0]; // RunAsNode not flipped
    await flipFuses(apps().linux, config);
    expect((await verifyPackagedFuses(release, CONFIG)).problems).toEqual(['linux-unpacked/offhost: RunAsNode is on, expected off']);

    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-release-empty-'));
    expect((await verifyPackagedFuses(empty, CONFIG)).problems).toEqual([`no packaged app found in ${empty}`]);
    fs.rmSync(empty, { recursive: true });
  });
});

describe('fuseExpectations', () => {
  it('reads every fuse the config sets, and refuses unknown or non-boolean ones', () => {
    const names = fuseExpectations(parse(fs.readFileSync(CONFIG, 'utf8')).electronFuses).map((e) => e.name);
    expect(names).toEqual(expect.arrayContaining(['RunAsNode', 'EnableNodeOptionsEnvironmentVariable', 'EnableNodeCliInspectArguments', 'EnableCookieEncryption', 'OnlyLoadAppFromAsar', 'EnableEmbeddedAsarIntegrityValidation']));
    expect(() => fuseExpectations({ runAsnode: false })).toThrow(/runAsnode is not a fuse/);
    expect(() => fuseExpectations({ runAsNode: 'no' })).toThrow(/must be true or false/);
    expect(() => fuseExpectations(undefined)).toThrow(/no electronFuses/);
  });
});
