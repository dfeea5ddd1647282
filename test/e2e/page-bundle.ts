// One page of the renderer bundled on its own (esbuild) with a fake desktop bridge in front of it:
// for the benchmark of the Processes table and for views whose data the test cluster cannot make
// (an OOM kill needs the pod annotated at creation, which the server never does). The HTML is
// self-contained; load it with page.setContent().
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as esbuild from 'esbuild';

export async function bundlePage(entry: string, opts: { minify?: boolean } = {}): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-page-bundle-'));
  try {
    await esbuild.build({
      entryPoints: [entry],
      bundle: true,
      minify: opts.minify ?? true,
      format: 'iife',
      outdir: dir,
      entryNames: 'page',
      jsx: 'automatic',
      define: { 'process.env.NODE_ENV': '"production"' },
      logLevel: 'error',
    });
    const js = fs.readFileSync(path.join(dir, 'page.js'), 'utf8');
    const cssFile = path.join(dir, 'page.css');
    const css = fs.existsSync(cssFile) ? fs.readFileSync(cssFile, 'utf8') : '';
    return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Offhost</title><style>${css}</style></head><body><div id="root"></div><script>${js.replace(/<\/script/gi, '<\\/script')}</script></body></html>`;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
