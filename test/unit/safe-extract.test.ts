// Extraction of untrusted tar streams (render outputs from the store pod, static bundles): nothing
// may land outside the destination, links are never created, limits hold.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { Header } from 'tar';
import { afterEach, describe, expect, it } from 'vitest';
import { extractTarSafely, safeMemberPath, UnsafeArchiveError } from '../../main/content/safe-extract';

interface Member {
  path: string;
  data?: string;
  type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'FIFO';
  linkpath?: string;
  mode?: number;
}

function tarOf(members: Member[]): Buffer {
  const blocks: Buffer[] = [];
  for (const m of members) {
    const data = Buffer.from(m.data ?? '');
    const type = m.type ?? 'File';
    const h = new Header({ path: m.path, type, size: type === 'File' ? data.length : 0, mode: m.mode ?? (type === 'Directory' ? 0o755 : 0o644), mtime: new Date(0), uid: 0, gid: 0, linkpath: m.linkpath, uname: '', gname: '' });
    const block = Buffer.alloc(512);
    h.encode(block, 0);
    blocks.push(block);
    if (type === 'File' && data.length) {
      blocks.push(data);
      const pad = (512 - (data.length % 512)) % 512;
      if (pad) blocks.push(Buffer.alloc(pad));
    }
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

const dirs: string[] = [];
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'safe-extract-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** Every path under a directory, relative, sorted (directories end with "/"). */
function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      const rel = path.relative(dir, p);
      if (e.isDirectory()) {
        out.push(`${rel}/`);
        walk(p);
      } else out.push(rel);
    }
  };
  walk(dir);
  return out.sort();
}

describe('safeMemberPath', () => {
  it.each([
    ['./index.html', 'index.html'],
    ['a//b/./c.txt', 'a/b/c.txt'],
    ['.', ''],
    ['./', ''],
  ])('%s → %s', (raw, want) => expect(safeMemberPath(raw)).toBe(want));

  it.each(['/etc/passwd', '../x', 'a/../../x', 'a/..', 'C:/x', '\\\\server\\x', 'a\0b', '..\\x'])('refuses %j', (raw) => {
    expect(() => safeMemberPath(raw)).toThrow(UnsafeArchiveError);
  });
});

describe('extractTarSafely', () => {
  it('writes files and directories (executable bit kept), a hard link as a copy, and reports links and FIFOs as skipped', async () => {
    const root = tmp();
    const dest = path.join(root, 'out');
    const tar = tarOf([
      { path: './', type: 'Directory' },
      { path: './index.html', data: '<h1>report</h1>' },
      { path: './index_files/', type: 'Directory' },
      { path: './index_files/app.js', data: 'x()' },
      { path: './run.sh', data: '#!/bin/sh\n', mode: 0o755 },
      { path: './copy.html', type: 'Link', linkpath: './index.html' },
      { path: './escape', type: 'SymbolicLink', linkpath: '/etc' },
      { path: './fifo', type: 'FIFO' },
    ]);
    const r = await extractTarSafely(Readable.from([tar]), dest);
    expect(listing(dest)).toEqual(['copy.html', 'index.html', 'index_files/', 'index_files/app.js', 'run.sh']);
    expect(fs.readFileSync(path.join(dest, 'copy.html'), 'utf8')).toBe('<h1>report</h1>');
    expect(fs.statSync(path.join(dest, 'run.sh')).mode & 0o777).toBe(0o755);
    expect(fs.statSync(path.join(dest, 'index.html')).mode & 0o777).toBe(0o644);
    expect(r).toMatchObject({ files: 4 });
    expect(r.skipped).toEqual([expect.stringMatching(/^escape \(a symbolic link to \/etc/), expect.stringMatching(/^fifo \(a FIFO member/)]);
  });

  it('reads gzip when asked', async () => {
    const dest = path.join(tmp(), 'out');
    await extractTarSafely(Readable.from([zlib.gzipSync(tarOf([{ path: 'a.txt', data: 'hello' }]))]), dest, { gzip: true });
    expect(fs.readFileSync(path.join(dest, 'a.txt'), 'utf8')).toBe('hello');
  });

  it.each([
    ['a name climbing out', [{ path: '../outside.txt', data: 'x' }], /"\.\." in its path/],
    ['an absolute name', [{ path: '/tmp/abs.txt', data: 'x' }], /absolute path/],
    ['a hard link to a file outside', [{ path: 'l', type: 'Link', linkpath: '../../etc/passwd' }], /outside the archive/],
    ['a hard link to something not in the archive', [{ path: 'l', type: 'Link', linkpath: 'nothing' }], /not an earlier file/],
    ['the same file twice', [{ path: 'a', data: '1' }, { path: './a', data: '2' }], /"a" twice/],
  ] as [string, Member[], RegExp][])('refuses %s and writes nothing outside', async (_what, members, why) => {
    const root = tmp();
    const dest = path.join(root, 'deep', 'out');
    await expect(extractTarSafely(Readable.from([tarOf(members)]), dest)).rejects.toThrow(why);
    // nothing next to or above the destination
    expect(listing(root).filter((p) => !p.startsWith('deep/'))).toEqual([]);
    expect(fs.existsSync(path.join(root, 'deep', 'outside.txt'))).toBe(false);
  });

  it('a file member through a symbolic-link member cannot land outside (the link is never created)', async () => {
    const root = tmp();
    const outside = path.join(root, 'outside');
    fs.mkdirSync(outside);
    const dest = path.join(root, 'out');
    const r = await extractTarSafely(Readable.from([tarOf([{ path: 'dir', type: 'SymbolicLink', linkpath: outside }, { path: 'dir/pwned.txt', data: 'x' }])]), dest);
    expect(fs.readdirSync(outside)).toEqual([]);
    expect(fs.lstatSync(path.join(dest, 'dir')).isDirectory()).toBe(true); // a real directory, made by us
    expect(r.skipped).toHaveLength(1);
  });

  it('refuses a destination that is not empty', async () => {
    const dest = tmp();
    fs.writeFileSync(path.join(dest, 'x'), '');
    await expect(extractTarSafely(Readable.from([tarOf([{ path: 'a', data: '1' }])]), dest)).rejects.toThrow(/not empty/);
  });

  it('stops at the byte and member limits', async () => {
    const big = tarOf([{ path: 'a', data: 'x'.repeat(600) }, { path: 'b', data: 'y'.repeat(600) }]);
    await expect(extractTarSafely(Readable.from([big]), path.join(tmp(), 'o'), { limits: { maxBytes: 1000, maxEntries: 10 } })).rejects.toThrow(/more than 1000 bytes/);
    const many = tarOf(Array.from({ length: 5 }, (_, i) => ({ path: `f${i}`, data: '1' })));
    await expect(extractTarSafely(Readable.from([many]), path.join(tmp(), 'o'), { limits: { maxBytes: 1e6, maxEntries: 3 } })).rejects.toThrow(/more than 3 members/);
  });

  it('a truncated stream fails', async () => {
    const t = tarOf([{ path: 'a', data: 'z'.repeat(5000) }]);
    await expect(extractTarSafely(Readable.from([t.subarray(0, 2000)]), path.join(tmp(), 'o'))).rejects.toThrow();
  });
});
