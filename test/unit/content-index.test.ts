// The page a document or static site shows at its root (main/content/outputs.ts indexPage).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { indexPage } from '../../main/content/outputs';

const dirs: string[] = [];
function dirWith(files: string[]): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'content-index-'));
  dirs.push(d);
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(d, f)), { recursive: true });
    fs.writeFileSync(path.join(d, f), '<p>x</p>');
  }
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('indexPage', () => {
  it.each([
    ['primary_html when present', ['home.html', 'index.html'], { primary_html: 'home.html' }, 'home.html'],
    ['the rendered name of primary_rmd', ['report.html', 'other.html'], { primary_rmd: 'report.Rmd' }, 'report.html'],
    ['the rendered name of a notebook entrypoint', ['analysis.html', 'x.html'], { entrypoint: 'analysis.ipynb' }, 'analysis.html'],
    ['a nested document rendered at the top', ['doc.html', 'y.html'], { primary_rmd: 'docs/doc.Rmd' }, 'doc.html'],
    ['index.html otherwise', ['index.html', 'a.html'], { primary_rmd: 'missing.Rmd' }, 'index.html'],
    ['the only top-level page otherwise', ['only.html', 'lib/x.html'], {}, 'only.html'],
    ['nothing when several pages and no hint', ['a.html', 'b.html'], {}, null],
    ['never a path out of the directory', ['index.html'], { primary_html: '../../etc/passwd.html' }, 'index.html'],
  ])('%s', (_what, files, metadata, want) => {
    expect(indexPage(dirWith(files), { metadata })).toBe(want);
  });
});
