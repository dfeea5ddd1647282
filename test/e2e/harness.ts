// The e2e harness: each test gets its own server (`node dist/main/server.js`, built once by
// global-setup.ts, on a throwaway data directory) and its own signed-in browser context; the
// browser process (the Chromium that global-setup.ts chose) is shared by the tests of one file.
// Screenshots go to test-results/screenshots/ (gitignored).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';
import { inject, test } from 'vitest';

export const root = path.resolve(__dirname, '../..');
export const screenshotDir = path.join(root, 'test-results', 'screenshots');
const SERVER = path.join(root, 'dist', 'main', 'server.js');

export interface Served {
  /** http://127.0.0.1:PORT/ */
  url: string;
  port: number;
  /** The sign-in address the server printed (single use). */
  loginUrl: string;
  dataDir: string;
  /** Everything the server printed so far. */
  output(): string;
  stop(): Promise<void>;
}

export interface ServeOptions {
  /** Extra environment for the server (SQLite in dataDir unless DATABASE_URL is given). */
  env?: Record<string, string>;
  dataDir?: string;
  /** A fixed port (see reservePort); 0 (the default) lets the server pick one. */
  port?: number;
  /** Leave the data directory for a later serve({ dataDir }) (a restart). */
  keepData?: boolean;
}

const LOGIN_URL = /(http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)/;

function startOnce(dataDir: string, port: number, env: Record<string, string>): Promise<{ child: ChildProcess; loginUrl: string; output: () => string }> {
  const child = spawn(process.execPath, [SERVER, '--port', String(port)], {
    cwd: root,
    env: { ...process.env, OFFHOST_DATA_DIR: dataDir, OFFHOST_LOG_LEVEL: 'warn', DATABASE_URL: '', PGHOST: '', PGDATABASE: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the server did not print its address within 30 s:\n${output}`));
    }, 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const m = LOGIN_URL.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve({ child, loginUrl: m[1]!, output: () => output });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(Object.assign(new Error(`the server exited with ${code}:\n${output}`), { output }));
    });
  });
}

/**
 * Starts the server. With a fixed port that is still held (by a socket the kernel has not let go of,
 * or by someone else for a moment), it retries for up to 15 s rather than failing at once.
 */
export async function serve(opts: ServeOptions = {}): Promise<Served> {
  if (!fs.existsSync(SERVER)) throw new Error(`${SERVER} is missing: the e2e global setup builds it (run the tests through vitest's e2e project)`);
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-e2e-'));
  const port = opts.port ?? 0;
  const deadline = Date.now() + 15_000;
  let started: Awaited<ReturnType<typeof startOnce>>;
  for (;;) {
    try {
      started = await startOnce(dataDir, port, opts.env ?? {});
      break;
    } catch (e) {
      const inUse = /EADDRINUSE/.test((e as { output?: string }).output ?? '');
      if (!inUse || port === 0 || Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const { child, loginUrl, output } = started;
  const url = loginUrl.replace(/\?token=.*$/, '');
  return {
    url,
    port: Number(new URL(url).port),
    loginUrl,
    dataDir,
    output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      if (!opts.keepData) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A free port below the kernel's ephemeral range, for a server that must come back on the same
 * port: the kernel hands out ephemeral ports (listen(0), outgoing connections) only inside that
 * range, so no other test's socket takes this one while our server is down.
 */
export async function reservePort(): Promise<number> {
  let low = 32768;
  try {
    low = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || low;
  } catch {
    // not Linux: keep the usual default
  }
  const floor = Math.min(20_000, low - 1000);
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = floor + Math.floor(Math.random() * (low - floor));
    const free = await new Promise<boolean>((resolve) => {
      const srv = net.createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error(`no free port between ${floor} and ${low}`);
}

export async function launchBrowser(): Promise<Browser> {
  const chosen = inject('chromium');
  return chromium.launch({
    executablePath: chosen.path,
    env: { ...process.env, ...chosen.env },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/** A new browser context, signed in through the server's printed (single-use) sign-in address. */
export async function signedInPage(browser: Browser, served: Served, options: BrowserContextOptions = {}): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  await page.goto(served.loginUrl);
  return { context, page };
}

export interface App {
  served: Served;
  page: Page;
  /** Call the server's API with the page's session, e.g. call('environments.list'). */
  call<T = unknown>(method: string, input?: unknown): Promise<T>;
}

/**
 * A vitest `it` whose `app` fixture is a fresh server and a fresh signed-in page for each test,
 * so no test depends on another's data or page. `seedYaml` is imported before the page loads.
 */
export function appTest(opts: { env?: Record<string, string>; context?: BrowserContextOptions; seedYaml?: string } = {}) {
  return test.extend<{ browser: Browser; app: App }>({
    browser: [
      // eslint-disable-next-line no-empty-pattern
      async ({}, use) => {
        const browser = await launchBrowser();
        await use(browser);
        await browser.close();
      },
      { scope: 'file' },
    ],
    app: async ({ browser }, use) => {
      const served = await serve({ env: opts.env ?? {} });
      try {
        if (opts.seedYaml) await seed(served, opts.seedYaml);
        const { context, page } = await signedInPage(browser, served, opts.context ?? {});
        const call = async <T>(method: string, input: unknown = {}): Promise<T> => {
          const res = await page.request.post(`${served.url}api/call/${method}`, { data: input ?? {} });
          const body = (await res.json()) as { result?: T; error?: unknown };
          if (body.error) throw new Error(`${method}: ${JSON.stringify(body.error)}`);
          return body.result as T;
        };
        await use({ served, page, call });
        await context.close();
      } finally {
        await served.stop();
      }
    },
  });
}

/** Imports environments with the CLI, as an operator would (the server sees them on its next read). */
export async function seed(served: Served, yaml: string): Promise<void> {
  const file = path.join(served.dataDir, 'seed.yaml');
  fs.writeFileSync(file, yaml);
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(root, 'dist', 'main', 'cli.js'), 'environments', 'import', file], {
      cwd: root,
      env: { ...process.env, OFFHOST_DATA_DIR: served.dataDir, DATABASE_URL: '', PGHOST: '', PGDATABASE: '' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c));
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`offhost environments import exited with ${code}: ${err}`))));
  });
}

export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(screenshotDir, { recursive: true });
  const file = path.join(screenshotDir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
