// Bundles the Node side (server, CLI, Electron main, preload) into dist/ with esbuild.
// npm packages stay external: they are installed next to the app (native ones must be).
import { readFileSync } from 'node:fs';
import { build } from 'esbuild';

// OFFHOST_BUNDLE_OUTDIR: build elsewhere than dist/ (a test builds the bundle into a scratch folder).
const outdir = process.env.OFFHOST_BUNDLE_OUTDIR ?? 'dist';
const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
  define: { __OFFHOST_VERSION__: JSON.stringify(version) },
};

await Promise.all([
  build({ ...common, format: 'esm', entryPoints: { server: 'main/server.ts', cli: 'main/cli.ts', electron: 'main/electron/main.ts' }, outdir: `${outdir}/main`, banner: { js: '#!/usr/bin/env node' } }),
  // The environments YAML worker (main/environments/parse-off-thread.ts): one self-contained
  // CommonJS file, dependencies included, so a worker thread can load it from Electron's asar too.
  build({ ...common, format: 'cjs', packages: undefined, entryPoints: { 'environments-worker': 'main/environments/parse-worker.ts' }, outdir: `${outdir}/main`, outExtension: { '.js': '.cjs' } }),
  // Sandboxed preload scripts must be CommonJS.
  build({ ...common, format: 'cjs', entryPoints: { preload: 'preload/index.ts' }, outdir: `${outdir}/preload`, outExtension: { '.js': '.cjs' } }),
]);
