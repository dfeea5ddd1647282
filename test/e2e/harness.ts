// Starts `npm run serve` on a free port with a throwaway data directory, and Debian's Chromium
// driven by playwright-core. Screenshots go to test-results/screenshots/ (gitignored).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContextOptions, type Page } from 'playwright-core';

export const root = path.resolve(__dirname, '../..');
export const screenshotDir = path.join(root, 'test-results', 'screenshots');
const CHROMIUM = process.env.OFFHOST_CHROMIUM ?? '/usr/bin/chromium';

export interface Served {
  url: string;
  loginUrl: string;
  dataDir: string;
  stop(): Promise<void>;
}

/** `keepData` leaves the data directory for a later serve({ dataDir }) (a restart). */
export async function serve(env: Record<string, string> = {}, opts: { dataDir?: string; port?: number; keepData?: boolean } = {}): Promise<Served> {
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-e2e-'));
  const child: ChildProcess = spawn('npm', ['run', 'serve', '--silent', '--', '--port', String(opts.port ?? 0)], {
    cwd: root,
    env: { ...process.env, OFFHOST_DATA_DIR: dataDir, OFFHOST_TOKEN: 'e2e-token', OFFHOST_LOG_LEVEL: 'warn', DATABASE_URL: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  const loginUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm run serve did not print its URL in 60 s:\n${output}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const m = /(http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`npm run serve exited with ${code}:\n${output}`)));
  });
  return {
    url: loginUrl.replace(/\?token=.*$/, ''),
    loginUrl,
    dataDir,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        process.kill(-child.pid!, 'SIGTERM');
        await exited;
      }
      if (!opts.keepData) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`The e2e tests drive Debian's Chromium at ${CHROMIUM}; install it (apt-get install chromium) or set OFFHOST_CHROMIUM.`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/** A browser with one page, signed in through the server's printed login URL. */
export async function signedInPage(served: Served, options: BrowserContextOptions = {}): Promise<{ browser: Browser; page: Page }> {
  const browser = await launchBrowser();
  const page = await (await browser.newContext(options)).newPage();
  await page.goto(served.loginUrl);
  return { browser, page };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(screenshotDir, { recursive: true });
  const file = path.join(screenshotDir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
