// Which Chromium the e2e tests drive, and getting the npm-shipped one ready.
// Order: OFFHOST_CHROMIUM (must exist when set) → a Chromium/Chrome installed on the system → the
// build shipped inside the @sparticuz/chromium npm package (a devDependency; Linux x64/arm64),
// unpacked once into the cache.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

export type ChromiumChoice =
  | { source: 'OFFHOST_CHROMIUM'; path: string }
  | { source: 'system'; path: string }
  | { source: 'npm' };

/** Names looked up on PATH, then fixed locations, per platform. */
const SYSTEM_NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable', 'chrome'];
const SYSTEM_PATHS: Record<string, string[]> = {
  linux: ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/opt/google/chrome/chrome'],
  darwin: ['/Applications/Google Chrome.app/Contents/MacOS/Google Chrome', '/Applications/Chromium.app/Contents/MacOS/Chromium'],
  win32: ['C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe', 'C:\\Program Files (x86)\\Google\\Chrome\\Application\\chrome.exe'],
};
/** Where @sparticuz/chromium has a build. */
const NPM_PLATFORMS = ['linux-x64', 'linux-arm64'];

/**
 * The pure choice: no file system access but through `isExecutable`. Throws when OFFHOST_CHROMIUM
 * names nothing runnable (an explicit choice is never silently replaced), and when there is no
 * Chromium at all for this platform.
 */
export function chooseChromium(env: Record<string, string | undefined>, platform: string, arch: string, isExecutable: (file: string) => boolean): ChromiumChoice {
  const explicit = env.OFFHOST_CHROMIUM;
  if (explicit) {
    if (!isExecutable(explicit)) throw new Error(`OFFHOST_CHROMIUM=${explicit} is not an executable file`);
    return { source: 'OFFHOST_CHROMIUM', path: explicit };
  }
  const sep = platform === 'win32' ? ';' : ':';
  const onPath = (env.PATH ?? '')
    .split(sep)
    .filter(Boolean)
    .flatMap((dir) => SYSTEM_NAMES.map((name) => `${dir}${platform === 'win32' ? '\\' : '/'}${name}${platform === 'win32' ? '.exe' : ''}`));
  const found = [...onPath, ...(SYSTEM_PATHS[platform] ?? [])].find(isExecutable);
  if (found) return { source: 'system', path: found };
  if (NPM_PLATFORMS.includes(`${platform}-${arch}`)) return { source: 'npm' };
  throw new Error(`no Chromium or Chrome found, and the npm-shipped Chromium has no build for ${platform}-${arch}: install Chrome, or set OFFHOST_CHROMIUM`);
}

export function isExecutableFile(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

export function cacheRoot(env: Record<string, string | undefined> = process.env): string {
  return path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'offhost');
}

export interface NpmChromium {
  path: string;
  version: string;
  /** Set for the browser process: fontconfig sees the system's fonts plus the bundled ones. */
  env: Record<string, string>;
  /** Milliseconds spent unpacking; 0 when the cache had it. */
  unpackMs: number;
}

/**
 * Unpacks the npm-shipped Chromium into <cache>/chromium/<version>/ once. The package always
 * unpacks into os.tmpdir() and reuses whatever it finds there (whatever its version), so we run it
 * in a child process whose TMPDIR is a fresh staging directory, then move that into place.
 */
export async function npmChromium(root: string, cache: string = cacheRoot()): Promise<NpmChromium> {
  const pkgDir = path.join(root, 'node_modules', '@sparticuz', 'chromium');
  let version: string;
  try {
    version = (JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as { version: string }).version;
  } catch (e) {
    throw new Error(`the npm-shipped Chromium (@sparticuz/chromium) is not installed (${(e as Error).message}); run npm ci`);
  }
  const dir = path.join(cache, 'chromium', version);
  const binary = path.join(dir, 'chromium');
  let unpackMs = 0;
  if (!isExecutableFile(binary)) {
    const t = Date.now();
    fs.mkdirSync(path.dirname(dir), { recursive: true });
    const staging = fs.mkdtempSync(path.join(path.dirname(dir), `.staging-${version}-`));
    try {
      const script = `const m = await import('@sparticuz/chromium'); process.stdout.write(await m.default.executablePath());`;
      const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: root, env: { ...process.env, TMPDIR: staging } });
      if (stdout !== path.join(staging, 'chromium')) throw new Error(`it unpacked to ${stdout}, not into ${staging}`);
      fs.rmSync(dir, { recursive: true, force: true });
      fs.renameSync(staging, dir);
    } catch (e) {
      fs.rmSync(staging, { recursive: true, force: true });
      throw new Error(`could not unpack the npm-shipped Chromium ${version}: ${(e as Error).message}`);
    }
    unpackMs = Date.now() - t;
  }
  // The package's own fonts.conf points at /tmp/fonts; ours includes the system's configuration
  // (when there is one) and the bundled Open Sans, so text renders on a machine without fonts too.
  const fontsConf = path.join(dir, 'offhost-fonts.conf');
  if (!fs.existsSync(fontsConf)) {
    fs.writeFileSync(
      fontsConf,
      `<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n` +
        `  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>\n  <dir>${path.join(dir, 'fonts', 'fonts')}</dir>\n` +
        `  <cachedir>${path.join(dir, 'fonts-cache')}</cachedir>\n</fontconfig>\n`,
    );
  }
  return { path: binary, version, env: { FONTCONFIG_FILE: fontsConf }, unpackMs };
}
