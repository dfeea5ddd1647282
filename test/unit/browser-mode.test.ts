// `npm start`'s choices: is there an Electron binary (without triggering its download), and how to
// open the user's browser.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error -- a plain .mjs build script without type declarations
import { browserOpener, findElectron } from '../../build/browser-mode.mjs';

const dir = '/app/node_modules/electron';

describe('findElectron', () => {
  it('uses ELECTRON_OVERRIDE_DIST_PATH when set, and only if the binary is there', () => {
    const override = { ELECTRON_OVERRIDE_DIST_PATH: '/opt/electron' };
    expect(findElectron(dir, override, (f: string) => f === '/opt/electron/electron')).toEqual({ path: '/opt/electron/electron' });
    expect(findElectron(dir, override, () => false)).toEqual({ missing: 'ELECTRON_OVERRIDE_DIST_PATH has no /opt/electron/electron' });
  });

  it('without a downloaded binary, says so and that a download may get it', () => {
    expect(findElectron(dir, {}, () => false)).toEqual({ missing: 'the Electron binary is not installed', downloadable: true });
  });

  it('finds the downloaded binary through path.txt', () => {
    const here = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-electron-'));
    try {
      fs.writeFileSync(path.join(here, 'path.txt'), 'electron');
      expect(findElectron(here, {})).toEqual({ missing: 'the Electron binary is not installed', downloadable: true });
      fs.mkdirSync(path.join(here, 'dist'));
      fs.writeFileSync(path.join(here, 'dist', 'electron'), '');
      expect(findElectron(here, {})).toEqual({ path: path.join(here, 'dist', 'electron') });
    } finally {
      fs.rmSync(here, { recursive: true, force: true });
    }
  });
});

describe('browserOpener', () => {
  it('opens with the desktop tool of each platform', () => {
    expect(browserOpener('darwin', {})).toEqual(['open']);
    expect(browserOpener('win32', {})).toEqual(['cmd', '/c', 'start', '""']);
    expect(browserOpener('linux', { DISPLAY: ':0' })).toEqual(['xdg-open']);
    expect(browserOpener('linux', { WAYLAND_DISPLAY: 'wayland-0' })).toEqual(['xdg-open']);
  });

  it('does not open a browser without a display (xdg-open would start a text browser in the terminal), in CI, or when asked not to', () => {
    expect(browserOpener('linux', {})).toBeUndefined();
    expect(browserOpener('linux', { DISPLAY: ':0', CI: 'true' })).toBeUndefined();
    expect(browserOpener('darwin', { OFFHOST_NO_BROWSER: '1' })).toBeUndefined();
  });
});
