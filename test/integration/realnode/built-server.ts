/**
 * The built server (`node dist/main/server.js`, as `npm run serve` runs it) and the built CLI, as
 * the end-to-end tests on the real node start them: a process of its own, with the environment
 * given, on a free port.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '../../..');
const serverJs = path.join(root, 'dist/main/server.js');
const cliJs = path.join(root, 'dist/main/cli.js');

export interface BuiltServer {
  /** Its address, ending in "/". */
  url: string;
  /** The sign-in address it printed (works once). */
  loginUrl: string;
  /** Everything it printed so far. */
  log(): string;
  stop(): Promise<void>;
}

export async function startBuiltServer(env: Record<string, string>): Promise<BuiltServer> {
  if (!fs.existsSync(serverJs)) throw new Error(`${serverJs} is missing: run "npm run build" (npm test does it first).`);
  const child = spawn(process.execPath, [serverJs, '--port', '0'], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const loginUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server printed no address in 30 s:\n${out}`)), 30_000);
    const check = () => {
      const m = /(http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    child.once('exit', (code) => reject(new Error(`the server exited with ${code}:\n${out}`)));
  });
  return {
    url: loginUrl.replace(/\?token=.*$/, ''),
    loginUrl,
    log: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Run a program to its end (killed after `timeoutMs`), collecting what it prints. */
export function runProgram(program: string, args: string[], env: Record<string, string>, cwd = root, timeoutMs = 240_000): Promise<Run> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

/** A new admin API key, made with the built CLI against the server's database (`env`). */
export async function createAdminKey(env: Record<string, string>, name: string): Promise<string> {
  const made = await runProgram(process.execPath, [cliJs, 'key', 'create', '--role', 'admin', '--name', name], { ...process.env, ...env } as Record<string, string>);
  const key = /ohk_\S+/.exec(made.stdout)?.[0];
  if (made.code !== 0 || !key) throw new Error(`offhost key create exited ${made.code}: ${made.stderr || made.stdout}`);
  return key;
}

export interface Answer {
  status: number;
  text: string;
  /** The body parsed as JSON; undefined when it is not JSON. */
  json: any;
  headers: Headers;
}

export interface RequestOptions {
  /** The API key to send; null sends none; undefined: the default key. */
  key?: string | null;
  body?: unknown;
  raw?: Buffer;
  headers?: Record<string, string>;
}

/** Requests to a server at `base()` with an API key (`defaultKey()` unless told otherwise); redirects are not followed. */
export function keyedRequests(base: () => string, defaultKey: () => string) {
  return async (method: string, p: string, opts: RequestOptions = {}): Promise<Answer> => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.key !== null) headers.Authorization = `Key ${opts.key ?? defaultKey()}`;
    let body: BodyInit | undefined = opts.raw ? new Uint8Array(opts.raw) : undefined;
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['Content-Type'] = 'application/json';
    }
    const res = await fetch(new URL(p, base()), { method, headers, body, redirect: 'manual' });
    const text = await res.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, text, json, headers: res.headers };
  };
}
