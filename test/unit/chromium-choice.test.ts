// Which Chromium the e2e tests drive: OFFHOST_CHROMIUM, else a system one, else the npm-shipped one.
import { describe, expect, it } from 'vitest';
import { chooseChromium } from '../setup/chromium';

/** An `isExecutable` that knows only these files. */
const only = (...files: string[]) => (f: string) => files.includes(f);

describe('chooseChromium', () => {
  it('takes OFFHOST_CHROMIUM first, even when a system Chromium exists', () => {
    expect(chooseChromium({ OFFHOST_CHROMIUM: '/opt/my/chrome', PATH: '/usr/bin' }, 'linux', 'x64', only('/opt/my/chrome', '/usr/bin/chromium'))).toEqual({
      source: 'OFFHOST_CHROMIUM',
      path: '/opt/my/chrome',
    });
  });

  it('refuses an OFFHOST_CHROMIUM that is not there, rather than silently using another browser', () => {
    expect(() => chooseChromium({ OFFHOST_CHROMIUM: '/nope/chrome' }, 'linux', 'x64', only('/usr/bin/chromium'))).toThrow('OFFHOST_CHROMIUM=/nope/chrome is not an executable file');
  });

  it('finds a system Chromium or Chrome on PATH, in PATH order', () => {
    const env = { PATH: '/home/me/bin:/usr/local/bin:/usr/bin' };
    expect(chooseChromium(env, 'linux', 'x64', only('/usr/bin/chromium', '/usr/local/bin/google-chrome'))).toEqual({ source: 'system', path: '/usr/local/bin/google-chrome' });
    expect(chooseChromium(env, 'linux', 'x64', only('/usr/bin/chromium-browser'))).toEqual({ source: 'system', path: '/usr/bin/chromium-browser' });
  });

  it('knows the fixed install locations when PATH does not have them', () => {
    expect(chooseChromium({ PATH: '/usr/local/bin' }, 'linux', 'x64', only('/opt/google/chrome/chrome'))).toEqual({ source: 'system', path: '/opt/google/chrome/chrome' });
    const mac = '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome';
    expect(chooseChromium({ PATH: '/usr/bin' }, 'darwin', 'arm64', only(mac))).toEqual({ source: 'system', path: mac });
  });

  it('falls back to the npm-shipped Chromium on Linux x64 and arm64', () => {
    expect(chooseChromium({ PATH: '/usr/bin' }, 'linux', 'x64', only())).toEqual({ source: 'npm' });
    expect(chooseChromium({}, 'linux', 'arm64', only())).toEqual({ source: 'npm' });
  });

  it('says what to do where there is no Chromium and no npm build', () => {
    expect(() => chooseChromium({ PATH: '/usr/bin' }, 'darwin', 'arm64', only())).toThrow(/no Chromium or Chrome found.*darwin-arm64: install Chrome, or set OFFHOST_CHROMIUM/);
  });
});
