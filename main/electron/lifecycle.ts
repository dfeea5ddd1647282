// One desktop instance per user. Pure: main.ts passes Electron's app and BrowserWindow, which
// fit these interfaces (tsc checks that); the unit tests pass small recorders.

export interface SingleInstanceApp {
  requestSingleInstanceLock(): boolean;
  quit(): void;
  on(event: 'second-instance', listener: () => void): unknown;
}

export interface RaisableWindow {
  isDestroyed(): boolean;
  isMinimized(): boolean;
  restore(): void;
  show(): void;
  focus(): void;
}

/**
 * Takes the single-instance lock and calls `start` only if this process got it. Without the lock
 * it asks the app to quit and returns false: app.quit() is asynchronous, so the caller must not
 * go on (two cores on one SQLite file would fight over it). A later launch raises our window.
 */
export function runSingleInstance(app: SingleInstanceApp, start: () => void, currentWindow: () => RaisableWindow | undefined): boolean {
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return false;
  }
  app.on('second-instance', () => {
    const win = currentWindow();
    if (!win || win.isDestroyed()) return;
    if (win.isMinimized()) win.restore();
    win.show();
    win.focus();
  });
  start();
  return true;
}
