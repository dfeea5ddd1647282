// The Electron main process: one window, the core, and the IPC end of the API contract.
// Kept thin on purpose: everything it calls is the same code the headless server runs and tests cover.
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { app, BrowserWindow, ipcMain, net, protocol, shell } from 'electron';
import { EVENT_NAMES } from '../../shared/api';
import { AppError } from '../../shared/errors';
import { dispatch } from '../api/handlers';
import { CONTENT_SECURITY_POLICY } from '../security';
import { loadConfig } from '../config';
import { createCore, type Core } from '../core';
import { createLogger } from '../log';

const here = path.dirname(fileURLToPath(import.meta.url));
const rendererDir = path.resolve(here, '../renderer');
const ORIGIN = 'app://offhost';

protocol.registerSchemesAsPrivileged([{ scheme: 'app', privileges: { standard: true, secure: true, supportFetchAPI: true } }]);

if (!app.requestSingleInstanceLock()) app.quit();

let core: Core | undefined;

async function start(): Promise<void> {
  await app.whenReady();
  protocol.handle('app', async (request) => {
    const url = new URL(request.url);
    const file = path.normalize(path.join(rendererDir, decodeURIComponent(url.pathname === '/' ? '/index.html' : url.pathname)));
    if (url.host !== 'offhost' || !file.startsWith(rendererDir + path.sep)) return new Response('Not found', { status: 404 });
    const res = await net.fetch(`file://${file}`);
    const headers = new Headers(res.headers);
    headers.set('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    return new Response(res.body, { status: res.status, headers });
  });

  // Packaged apps carry better-sqlite3 built for Electron beside the asar (see build/electron-native.mjs).
  if (app.isPackaged && !process.env.OFFHOST_SQLITE_BINDING) process.env.OFFHOST_SQLITE_BINDING = path.join(process.resourcesPath, 'native', 'better_sqlite3.node');
  const log = createLogger();
  core = await createCore(loadConfig(process.env, { dataDir: process.env.OFFHOST_DATA_DIR ?? app.getPath('userData') }), log, 'desktop');
  const actor = `desktop:${os.userInfo().username}`;

  ipcMain.handle('offhost:call', async (event, method: unknown, input: unknown) => {
    // Only our own page may call the core.
    if (!event.senderFrame || new URL(event.senderFrame.url).origin !== ORIGIN) return { error: new AppError('Forbidden', 'Unknown sender.').toBody() };
    try {
      return { result: (await dispatch(core!.handlers, method, input, { actor, role: 'admin' })) ?? null };
    } catch (e) {
      if (e instanceof AppError) return { error: e.toBody() };
      log.error({ err: e }, 'unexpected error');
      return { error: new AppError('Internal', 'Something went wrong inside Offhost; the log has the details.').toBody() };
    }
  });

  const win = new BrowserWindow({
    width: 1280,
    height: 820,
    title: 'Offhost',
    show: false,
    webPreferences: { preload: path.resolve(here, '../preload/preload.cjs'), contextIsolation: true, sandbox: true, nodeIntegration: false, spellcheck: false },
  });
  for (const name of EVENT_NAMES) core.events.on(name, (payload) => win.webContents.send('offhost:event', name, payload));
  win.webContents.setWindowOpenHandler(({ url }) => {
    if (/^https?:\/\//.test(url)) void shell.openExternal(url);
    return { action: 'deny' };
  });
  win.webContents.on('will-navigate', (e, url) => {
    if (!url.startsWith(`${ORIGIN}/`)) e.preventDefault();
  });
  win.once('ready-to-show', () => win.show());
  await win.loadURL(`${ORIGIN}/index.html`);
}

app.on('window-all-closed', () => app.quit());
app.on('will-quit', () => void core?.close());
start().catch((e) => {
  console.error(`offhost: ${(e as Error).message}`);
  app.exit(1);
});
