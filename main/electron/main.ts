// The Electron main process: one window, the core, and the IPC end of the API contract.
// Kept thin on purpose: every decision it wires (who may call over IPC, where the window may go,
// what app:// serves, single instance) is a pure function in this folder with unit tests; the
// core is the same code the headless server runs. This file itself is only type-checked here.
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { app, BrowserWindow, ipcMain, protocol, session, shell, type Session, type WebContents } from 'electron';
import { EVENT_NAMES } from '../../shared/api';
import { AppError } from '../../shared/errors';
import { dispatch } from '../api/handlers';
import { loadConfig, resolveSecretFiles } from '../config';
import { createCore, type Core } from '../core';
import { createLogger } from '../log';
import { APP_ENTRY, APP_SCHEME } from './app-url';
import { runSingleInstance } from './lifecycle';
import { openDesktopSecrets } from './secrets';
import { SECRET_NAMES } from '../secrets/store';
import { decideWindowOpen, navigationAllowed, permissionAllowed, windowWebPreferences } from './policy';
import { serveAppRequest } from './protocol';
import { describeSender, isTrustedSender } from './sender';

const here = path.dirname(fileURLToPath(import.meta.url));
const rendererDir = path.resolve(here, '../renderer');
const log = createLogger();

protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } }]);
app.enableSandbox();

let core: Core | undefined;
let win: BrowserWindow | undefined;

function denyPermissions(ses: Session): void {
  ses.setPermissionRequestHandler((_contents, permission, callback) => callback(permissionAllowed(permission)));
  ses.setPermissionCheckHandler((_contents, permission) => permissionAllowed(permission));
  ses.setDevicePermissionHandler(() => false);
}

// Every webContents, not only our window's: no webviews, no new windows, no navigation or
// redirect away from our page in any frame, no permissions.
app.on('web-contents-created', (_event, contents: WebContents) => {
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(({ url }) => {
    const decision = decideWindowOpen(url);
    if (decision.openExternal) shell.openExternal(decision.openExternal).catch((e: Error) => log.warn({ url: decision.openExternal, err: e.message }, 'could not open the browser'));
    else log.warn({ url: url.slice(0, 200) }, 'refused to open a window');
    return { action: 'deny' };
  });
  const guard = (event: Electron.Event<{ url: string; isMainFrame: boolean }>, kind: string) => {
    if (navigationAllowed(event.url, event.isMainFrame)) return;
    event.preventDefault();
    log.warn({ url: event.url.slice(0, 200), isMainFrame: event.isMainFrame }, `refused ${kind}`);
  };
  contents.on('will-navigate', (event) => guard(event, 'navigation'));
  contents.on('will-frame-navigate', (event) => guard(event, 'frame navigation'));
  contents.on('will-redirect', (event) => guard(event, 'redirect'));
  denyPermissions(contents.session);
});

async function start(): Promise<void> {
  await app.whenReady();
  denyPermissions(session.defaultSession);
  protocol.handle(APP_SCHEME, (request) => serveAppRequest(request, rendererDir));

  // Packaged apps carry better-sqlite3 built for Electron beside the asar (see build/electron-native.mjs).
  if (app.isPackaged && !process.env.OFFHOST_SQLITE_BINDING) process.env.OFFHOST_SQLITE_BINDING = path.join(process.resourcesPath, 'native', 'better_sqlite3.node');
  // Secrets (a PostgreSQL URL with its password) live in the OS keychain, in main only; the
  // environment's DATABASE_URL / DATABASE_URL_FILE win over the saved one.
  const dataDir = process.env.OFFHOST_DATA_DIR ?? app.getPath('userData');
  const secrets = await openDesktopSecrets(dataDir, (message) => log.warn(message));
  // OFFHOST_REMEMBER_DATABASE_URL=1 saves the given one for launches from the desktop menu (which
  // carry no environment); =0 forgets it.
  const env = resolveSecretFiles(process.env);
  const remember = process.env.OFFHOST_REMEMBER_DATABASE_URL;
  if (remember === '0' && secrets.delete(SECRET_NAMES.databaseUrl)) log.info('forgot the saved database URL');
  if (env.DATABASE_URL) {
    if (remember === '1') {
      await secrets.set(SECRET_NAMES.databaseUrl, env.DATABASE_URL);
      log.info({ protection: secrets.protection.kind }, 'saved the database URL for the next launches');
    }
  } else if (!env.PGHOST && !env.PGDATABASE) {
    const saved = await secrets.get(SECRET_NAMES.databaseUrl);
    if (saved) env.DATABASE_URL = saved;
  }
  core = await createCore(loadConfig(env, { dataDir }), log, 'desktop');
  const actor = `desktop:${os.userInfo().username}`;

  ipcMain.handle('offhost:call', async (event, method: unknown, input: unknown) => {
    // Only our window's main frame, showing our own page, may call the core.
    const mainFrame = win && !win.isDestroyed() && !win.webContents.isDestroyed() ? win.webContents.mainFrame : undefined;
    if (!isTrustedSender(event.senderFrame, mainFrame)) {
      log.warn({ sender: describeSender(event.senderFrame) }, 'refused an IPC call from an unknown sender');
      return { error: new AppError('Forbidden', 'Unknown sender.').toBody() };
    }
    try {
      return { result: (await dispatch(core!.handlers, method, input, { actor, role: 'admin' })) ?? null };
    } catch (e) {
      if (e instanceof AppError) return { error: e.toBody() };
      log.error({ err: e }, 'unexpected error');
      return { error: new AppError('Internal', 'Something went wrong inside Offhost; the log has the details.').toBody() };
    }
  });

  const mainWindow = new BrowserWindow({
    width: 1280,
    height: 820,
    title: 'Offhost',
    show: false,
    webPreferences: windowWebPreferences(path.resolve(here, '../preload/preload.cjs')),
  });
  win = mainWindow;
  for (const name of EVENT_NAMES) core.events.on(name, (payload) => {
    if (!mainWindow.isDestroyed()) mainWindow.webContents.send('offhost:event', name, payload);
  });
  mainWindow.once('ready-to-show', () => mainWindow.show());
  await mainWindow.loadURL(APP_ENTRY);
}

app.on('window-all-closed', () => app.quit());
app.on('will-quit', () => void core?.close());
runSingleInstance(app, () => {
  start().catch((e) => {
    console.error(`offhost: ${(e as Error).message}`);
    app.exit(1);
  });
}, () => win);
