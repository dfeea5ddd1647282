// Helpers for the Connect content tests: a server on a fresh database of either backend, HTTP
// requests with a key, and tar.gz bundles built member by member (so bad ones can be made too).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { Header } from 'tar';
import { startHttpServer, type HttpServer } from '../../main/api/http-server';
import { loadConfig, type Config } from '../../main/config';
import { createCore, type Core } from '../../main/core';
import { silentLogger } from '../../main/log';
import type { Backend } from './backends';

export interface Harness {
  core: Core;
  server: HttpServer;
  dir: string;
  keys: { admin: string; publisher: string; other: string; viewer: string };
  req(method: string, p: string, opts?: { key?: string | null; body?: unknown; raw?: BodyInit | Buffer; headers?: Record<string, string> }): Promise<{ status: number; json: any; text: string; headers: Headers; bytes: Buffer }>;
  close(): Promise<void>;
}

export async function startHarness(backend: Backend, overrides: Partial<Config> = {}): Promise<Harness> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-connect-'));
  const db = await backend.create();
  const config = loadConfig({}, { dataDir: dir, port: 0, database: db.config, environmentsFile: null, kube: null, ...overrides } as Partial<Config>);
  const core = await createCore(config, silentLogger, 'server');
  const server = await startHttpServer(core);
  const keys = {
    admin: (await core.apiKeys.create('admin key', 'admin', 'test', { user: 'alice' })).key,
    publisher: (await core.apiKeys.create('publisher key', 'publisher', 'test', { user: 'pat' })).key,
    other: (await core.apiKeys.create('other key', 'publisher', 'test', { user: 'olga' })).key,
    viewer: (await core.apiKeys.create('viewer key', 'viewer', 'test', { user: 'vic' })).key,
  };
  const req: Harness['req'] = async (method, p, opts = {}) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.key !== null) headers.Authorization = `Key ${opts.key ?? keys.admin}`;
    let body: BodyInit | undefined = Buffer.isBuffer(opts.raw) ? new Uint8Array(opts.raw) : opts.raw;
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['Content-Type'] ??= 'application/json';
    }
    const res = await fetch(new URL(p, server.url), { method, headers, body, redirect: 'manual', ...(body instanceof ReadableStream ? { duplex: 'half' } : {}) } as RequestInit);
    const bytes = Buffer.from(await res.arrayBuffer());
    const text = bytes.toString('utf8');
    let json: any;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, json, text, headers: res.headers, bytes };
  };
  return {
    core,
    server,
    dir,
    keys,
    req,
    async close() {
      await server.close();
      await core.close();
      await db.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Member {
  path: string;
  data?: string | Buffer;
  type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'CharacterDevice' | 'BlockDevice' | 'FIFO';
  linkpath?: string;
}

/** A tar archive built member by member (the way rsconnect writes them: no directory entries). */
export function tarOf(members: Member[]): Buffer {
  const blocks: Buffer[] = [];
  for (const m of members) {
    const data = m.data === undefined ? Buffer.alloc(0) : Buffer.from(m.data);
    const type = m.type ?? 'File';
    const h = new Header({ path: m.path, type, size: type === 'File' ? data.length : 0, mode: type === 'Directory' ? 0o755 : 0o644, mtime: new Date(0), uid: 0, gid: 0, linkpath: m.linkpath, uname: '', gname: '' });
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

export const gzip = (b: Buffer) => zlib.gzipSync(b);
export const md5 = (s: string | Buffer) => createHash('md5').update(s).digest('hex');

/** A bundle (.tar.gz): manifest.json with these files' checksums, then the files. */
export function bundleOf(manifest: Record<string, unknown>, files: Record<string, string>): Buffer {
  const listed = { ...manifest, files: Object.fromEntries(Object.entries(files).map(([p, d]) => [p, { checksum: md5(d) }])) };
  return gzip(tarOf([{ path: 'manifest.json', data: JSON.stringify(listed) }, ...Object.entries(files).map(([path, data]) => ({ path, data }))]));
}

export const APP_PY = 'from fastapi import FastAPI\napp = FastAPI()\n\n@app.get("/")\ndef root():\n    return {"hello": "world"}\n';
export const REQUIREMENTS = 'fastapi==0.115.0\nuvicorn\n';

/** A manifest as rsconnect-python 1.32 writes it for `deploy fastapi`. */
export function fastapiManifest(over: Record<string, unknown> = {}, files: Record<string, string> = { 'main.py': APP_PY, 'requirements.txt': REQUIREMENTS }) {
  return {
    version: 1,
    locale: 'en_US.UTF-8',
    metadata: { appmode: 'python-fastapi', entrypoint: 'main' },
    python: { version: '3.11.7', package_manager: { name: 'pip', version: '23.2.1', package_file: 'requirements.txt' } },
    files: Object.fromEntries(Object.entries(files).map(([p, d]) => [p, { checksum: md5(d) }])),
    ...over,
  };
}

/** A good FastAPI bundle: manifest.json, then the requirements file, then the sources. */
export function fastapiBundle(manifestOver: Record<string, unknown> = {}, extra: Member[] = []): Buffer {
  return gzip(
    tarOf([
      { path: 'manifest.json', data: JSON.stringify(fastapiManifest(manifestOver), null, 2) },
      { path: 'requirements.txt', data: REQUIREMENTS },
      { path: 'main.py', data: APP_PY },
      ...extra,
    ]),
  );
}

export const PYTHON_ENV = {
  name: 'ghcr.io/rstudio/content-base:r4.3.1-py3.11.9',
  title: 'Python 3.11',
  python: { installations: [{ version: '3.11.9', path: '/opt/python/3.11.9/bin/python3' }] },
  r: { installations: [{ version: '4.3.1', path: '/opt/R/4.3.1/bin/R' }] },
};

/** Poll a task (as rsconnect does: wait=1, then first=last) until a line matches or it finishes. */
export async function followTask(h: Harness, taskId: string, until: RegExp, key?: string, timeoutMs = 15_000) {
  const lines: string[] = [];
  let first = 0;
  const end = Date.now() + timeoutMs;
  for (;;) {
    const r = await h.req('GET', `/__api__/v1/tasks/${taskId}?first=${first}&wait=1`, { key });
    if (r.status !== 200) throw new Error(`task poll ${r.status}: ${r.text}`);
    lines.push(...r.json.output);
    first = r.json.last;
    if (r.json.finished || lines.some((l) => until.test(l))) return { lines, task: r.json };
    if (Date.now() > end) throw new Error(`task ${taskId} did not reach ${until}: ${lines.join(' | ')}`);
  }
}
