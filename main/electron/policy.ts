// What the desktop window may navigate to, open, and ask for. Pure decisions; main.ts wires
// them to Electron's events so the Electron-only code stays a few lines.
import { isAppUrl } from './app-url';
import { checkExternalUrl } from './external';

/**
 * will-navigate, will-redirect and will-frame-navigate: only the main frame, only to our own
 * page. Our page has no frames, so any subframe navigation is unexpected and refused. Help links
 * never load in our window: they go through window.open (decideWindowOpen) to the browser.
 */
export function navigationAllowed(url: string, isMainFrame: boolean): boolean {
  return isMainFrame === true && isAppUrl(url);
}

/** setWindowOpenHandler: never a new Electron window; allowlisted help links open in the browser. */
export function decideWindowOpen(url: string): { action: 'deny'; openExternal?: string } {
  const check = checkExternalUrl(url);
  return check.ok ? { action: 'deny', openExternal: check.url } : { action: 'deny' };
}

/**
 * Permission requests and checks (camera, notifications, clipboard, HID, …). Electron grants
 * most of them when no handler is set; the UI needs none, so all are refused.
 */
export function permissionAllowed(_permission: string): boolean {
  return false;
}

/**
 * The window's webPreferences. Most are Electron's defaults today; they are spelled out so a
 * change of default or a careless edit shows up in the unit test.
 */
export function windowWebPreferences(preload: string) {
  return {
    preload,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    webviewTag: false,
    navigateOnDragDrop: false,
    experimentalFeatures: false,
    safeDialogs: true,
    spellcheck: false,
  } as const;
}
