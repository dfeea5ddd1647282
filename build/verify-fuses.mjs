// After `electron-builder`: read the fuse wire back from every packaged app in release/ and
// compare it with `electronFuses` in electron-builder.yml. electron-builder flips the fuses right
// before signing; this makes a packaging change that skips or undoes them fail `npm run dist`
// instead of shipping an app that honours ELECTRON_RUN_AS_NODE or NODE_OPTIONS.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FuseV1Options, getCurrentFuseWire } from '@electron/fuses';
import { parse } from 'yaml';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ENABLE = '1'.charCodeAt(0);
const DISABLE = '0'.charCodeAt(0);

/** electronFuses keys (camelCase) to their fuse-wire index and the byte expected there. */
export function fuseExpectations(electronFuses) {
  if (electronFuses == null || typeof electronFuses !== 'object') throw new Error('electron-builder.yml has no electronFuses section');
  return Object.entries(electronFuses)
    .filter(([key]) => key !== 'resetAdHocDarwinSignature') // a signing option, not a fuse
    .map(([key, value]) => {
      const name = key[0].toUpperCase() + key.slice(1);
      const index = FuseV1Options[name];
      if (typeof index !== 'number') throw new Error(`electronFuses.${key} is not a fuse @electron/fuses knows`);
      if (typeof value !== 'boolean') throw new Error(`electronFuses.${key} must be true or false, got ${JSON.stringify(value)}`);
      return { name, index, expected: value ? ENABLE : DISABLE };
    });
}

/** Mismatches between a wire read by getCurrentFuseWire and the expectations, in words. */
export function wireProblems(wire, expectations) {
  const state = (b) => (b === ENABLE ? 'on' : b === DISABLE ? 'off' : b === undefined ? 'missing' : `state ${String.fromCharCode(b)}`);
  return expectations.filter((e) => wire[e.index] !== e.expected).map((e) => `${e.name} is ${state(wire[e.index])}, expected ${state(e.expected)}`);
}

/** The Electron executables electron-builder leaves in the output directory (unpacked dirs, mac .app bundles). */
export function packagedApps(releaseDir, { productName, executableName }) {
  if (!fs.existsSync(releaseDir)) return [];
  const found = [];
  for (const entry of fs.readdirSync(releaseDir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const dir = path.join(releaseDir, entry.name);
    if (entry.name.endsWith('-unpacked')) {
      // Linux: the lower-case package name; Windows: the product name with .exe.
      for (const name of [executableName, `${productName}.exe`]) if (fs.existsSync(path.join(dir, name))) found.push(path.join(dir, name));
    } else if (entry.name.startsWith('mac')) {
      const app = path.join(dir, `${productName}.app`);
      if (fs.existsSync(app)) found.push(app);
    }
  }
  return found;
}

export async function verifyPackagedFuses(releaseDir, configFile = path.join(root, 'build/electron-builder.yml'), packageFile = path.join(root, 'package.json')) {
  const config = parse(fs.readFileSync(configFile, 'utf8'));
  const pkg = JSON.parse(fs.readFileSync(packageFile, 'utf8'));
  const expectations = fuseExpectations(config.electronFuses);
  const apps = packagedApps(releaseDir, { productName: config.productName ?? pkg.productName ?? pkg.name, executableName: config.linux?.executableName ?? pkg.name.toLowerCase() });
  const problems = [];
  if (apps.length === 0) problems.push(`no packaged app found in ${releaseDir}`);
  for (const app of apps) {
    for (const p of wireProblems(await getCurrentFuseWire(app), expectations)) problems.push(`${path.relative(releaseDir, app)}: ${p}`);
  }
  return { apps, problems };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const releaseDir = path.resolve(process.argv[2] ?? path.join(root, 'release'));
  const { apps, problems } = await verifyPackagedFuses(releaseDir);
  if (problems.length > 0) {
    console.error(`Electron fuses are not as build/electron-builder.yml sets them:\n  ${problems.join('\n  ')}`);
    process.exit(1);
  }
  console.log(`Electron fuses verified in ${apps.length} packaged app(s): ${apps.map((a) => path.relative(releaseDir, a)).join(', ')}`);
}
