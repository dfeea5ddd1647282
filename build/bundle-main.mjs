// Bundles the Node side (server, CLI, Electron main, preload) into dist/ with esbuild.
// npm packages stay external: they are installed next to the app (native ones must be).
import { readFileSync } from 'node:fs';
import { build } from 'esbuild';

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
  build({ ...common, format: 'esm', entryPoints: { server: 'main/server.ts', cli: 'main/cli.ts', electron: 'main/electron/main.ts' }, outdir: 'dist/main', banner: { js: '#!/usr/bin/env node' } }),
  // Sandboxed preload scripts must be CommonJS.
  build({ ...common, format: 'cjs', entryPoints: { preload: 'preload/index.ts' }, outdir: 'dist/preload', outExtension: { '.js': '.cjs' } }),
]);
