// Issue 6 item 7: the app:// protocol handler serves only files inside the renderer directory,
// whatever the URL encodes, and every answer carries our Content-Security-Policy.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAppFile, resolveAppFile, serveAppRequest } from '../../main/electron/protocol';
import { CONTENT_SECURITY_POLICY } from '../../main/security';

const POSIX_ROOT = '/opt/Offhost/resources/app.asar/dist/renderer';
const WIN_ROOT = 'C:\\Program Files\\Offhost\\resources\\app.asar\\dist\\renderer';

/** The file a URL resolves to, or undefined when refused; throws if the resolver throws. */
function fileFor(url: string, root = POSIX_ROOT, p: path.PlatformPath = path.posix): string | undefined {
  const r = resolveAppFile(url, root, p);
  return r.ok ? r.file : undefined;
}

describe('resolveAppFile', () => {
  it('maps our URLs to files under the renderer directory', () => {
    expect(fileFor('app://offhost/')).toBe(`${POSIX_ROOT}/index.html`);
    expect(fileFor('app://offhost/index.html')).toBe(`${POSIX_ROOT}/index.html`);
    expect(fileFor('app://offhost/assets/index-Dx3_a1.js?v=1#top')).toBe(`${POSIX_ROOT}/assets/index-Dx3_a1.js`);
    expect(fileFor('app://offhost/assets/my%20font.woff2')).toBe(`${POSIX_ROOT}/assets/my font.woff2`);
    expect(fileFor('app://offhost/assets/app.js', WIN_ROOT, path.win32)).toBe(`${WIN_ROOT}\\assets\\app.js`);
  });

  it('refuses encoded parent segments and separators (posix)', () => {
    for (const url of [
      'app://offhost/..%2f..%2f..%2fetc%2fpasswd',
      'app://offhost/..%2F..%2F..%2Fetc%2Fpasswd',
      'app://offhost/assets/..%2f..%2f..%2f..%2f..%2fhome%2fuser%2f.ssh%2fid_ed25519',
      'app://offhost/%2e%2e%2f%2e%2e%2fsecret',
      'app://offhost/..%2frenderer-secrets%2fkey', // a sibling whose name starts like ours
      'app://offhost/..%5c..%5csecret', // backslash: a separator on Windows, refused everywhere
      'app://offhost/assets%2f..%2f..%2findex.html',
      'app://offhost/.%2f.%2findex.html',
    ])
      expect(fileFor(url), url).toBeUndefined();
  });

  it('refuses encoded parent segments and separators (Windows)', () => {
    for (const url of [
      'app://offhost/..%5c..%5c..%5cWindows%5cwin.ini',
      'app://offhost/..%2f..%2fsecret',
      'app://offhost/assets%5c..%5c..%5csecret',
    ])
      expect(fileFor(url, WIN_ROOT, path.win32), url).toBeUndefined();
  });

  it('refuses absolute paths, drive letters, UNC paths and NTFS streams', () => {
    for (const url of ['app://offhost/%2Fetc%2Fpasswd', 'app://offhost//etc/passwd', 'app://offhost/index.html%00.png'])
      expect(fileFor(url), url).toBeUndefined();
    for (const url of [
      'app://offhost/C:%5CWindows%5Cwin.ini',
      'app://offhost/C:/Windows/win.ini',
      'app://offhost/%5C%5Cserver%5Cshare%5Cx',
      'app://offhost/index.html::$DATA',
      'app://offhost/index.html%3A%3A%24DATA',
    ])
      expect(fileFor(url, WIN_ROOT, path.win32), url).toBeUndefined();
  });

  it('refuses malformed percent-encoding with 400 instead of throwing', () => {
    const r = resolveAppFile('app://offhost/%E0%A4%A', POSIX_ROOT, path.posix);
    expect(r).toMatchObject({ ok: false, status: 400 });
  });

  it('refuses other hosts and schemes', () => {
    for (const url of ['app://evil/index.html', 'app://offhost.evil/index.html', 'app://offhost@evil/index.html', 'file:///etc/passwd', 'https://offhost/index.html', 'nonsense'])
      expect(fileFor(url), url).toBeUndefined();
  });

  it('never resolves outside the root, whatever the input (sweep)', () => {
    const pieces = ['..', '.', '%2e%2e', '%2E%2E', '%2f', '%2F', '%5c', '/', 'a', '%00', ':', 'C:', '%252e%252e'];
    let count = 0;
    for (const a of pieces) for (const b of pieces) for (const c of pieces) {
      const url = `app://offhost/${a}${b}${c}x`;
      for (const [root, p] of [[POSIX_ROOT, path.posix], [WIN_ROOT, path.win32]] as const) {
        const file = fileFor(url, root, p);
        count++;
        if (file !== undefined) {
          const rel = p.relative(root, file);
          const escapes = rel === '' || rel === '..' || rel.startsWith(`..${p.sep}`) || p.isAbsolute(rel);
          expect(escapes, `${url} -> ${file}`).toBe(false);
        }
      }
    }
    expect(count).toBe(pieces.length ** 3 * 2);
  });
});

describe('serveAppRequest (real files on disk)', () => {
  let dir: string;
  let root: string;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-protocol-'));
    root = path.join(dir, 'renderer');
    fs.mkdirSync(path.join(root, 'assets'), { recursive: true });
    fs.writeFileSync(path.join(root, 'index.html'), '<!doctype html><title>Offhost</title>');
    fs.writeFileSync(path.join(root, 'assets', 'app.js'), 'console.log(1)');
    fs.writeFileSync(path.join(root, 'assets', 'app.css'), 'body{}');
    fs.writeFileSync(path.join(root, 'assets', 'blob.bin'), Buffer.from([0, 1, 2, 255]));
    fs.writeFileSync(path.join(dir, 'secret.txt'), 'SECRET');
    fs.mkdirSync(path.join(dir, 'renderer-secrets'));
    fs.writeFileSync(path.join(dir, 'renderer-secrets', 'key'), 'SECRET');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  // The handler exactly as main.ts registers it: the default reader is plain node:fs.
  const get = (url: string, method = 'GET') => serveAppRequest({ url, method }, root);

  it('serves our files with the Content-Security-Policy and nosniff', async () => {
    for (const url of ['app://offhost/', 'app://offhost/index.html']) {
      const res = await get(url);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('<title>Offhost</title>');
      expect(res.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    }
    expect(await (await get('app://offhost/assets/app.js')).text()).toBe('console.log(1)');
  });

  it('labels content by extension, so module scripts and styles load under nosniff', async () => {
    expect((await get('app://offhost/index.html')).headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect((await get('app://offhost/assets/app.js')).headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect((await get('app://offhost/assets/app.css')).headers.get('content-type')).toBe('text/css; charset=utf-8');
    const bin = await get('app://offhost/assets/blob.bin');
    expect(bin.headers.get('content-type')).toBe('application/octet-stream');
    expect([...new Uint8Array(await bin.arrayBuffer())]).toEqual([0, 1, 2, 255]);
  });

  it('answers 404 for a directory', async () => {
    expect((await get('app://offhost/assets')).status).toBe(404);
    await expect(readAppFile(path.join(root, 'assets'))).rejects.toThrow();
  });

  it('answers 404 with the same headers for a missing file, instead of failing the request', async () => {
    const res = await get('app://offhost/assets/missing.js');
    expect(res.status).toBe(404);
    expect(res.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
  });

  it('never returns a file beside the renderer directory', async () => {
    for (const url of ['app://offhost/..%2fsecret.txt', 'app://offhost/..%2frenderer-secrets%2fkey', 'app://offhost/assets%2f..%2f..%2fsecret.txt', 'app://offhost/%E0%A4%A']) {
      const res = await get(url);
      expect([400, 404], url).toContain(res.status);
      expect(await res.text(), url).not.toContain('SECRET');
      expect(res.headers.get('content-security-policy'), url).toBe(CONTENT_SECURITY_POLICY);
    }
  });

  it('answers only GET and HEAD', async () => {
    expect((await get('app://offhost/index.html', 'POST')).status).toBe(405);
    expect((await get('app://offhost/index.html', 'HEAD')).status).toBe(200);
  });
});

describe('the Content-Security-Policy applied to app://', () => {
  const directives = new Map(CONTENT_SECURITY_POLICY.split(';').map((d) => { const [k, ...v] = d.trim().split(/\s+/); return [k, v] as const; }));
  it('allows no inline or evaluated code, no plugins, no framing, no base tag', () => {
    expect(directives.get('script-src')).toEqual(["'self'"]);
    expect(directives.get('default-src')).toEqual(["'self'"]);
    expect(directives.get('object-src')).toEqual(["'none'"]);
    expect(directives.get('base-uri')).toEqual(["'none'"]);
    expect(directives.get('frame-ancestors')).toEqual(["'none'"]);
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
  });
});
