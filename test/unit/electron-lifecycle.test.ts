// Issue 6 item 7: one desktop instance per user. A second launch quits without starting a core
// (two cores on one SQLite file would fight over it) and raises the first instance's window.
// The app and window here are small recorders shaped like Electron's (main.ts passes the real
// ones; tsc checks they fit these interfaces). Electron itself cannot run on this machine.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { runSingleInstance, type RaisableWindow, type SingleInstanceApp } from '../../main/electron/lifecycle';

class RecordingApp extends EventEmitter implements SingleInstanceApp {
  calls: string[] = [];
  constructor(private readonly lock: boolean) {
    super();
  }
  requestSingleInstanceLock() {
    this.calls.push('lock');
    return this.lock;
  }
  quit() {
    this.calls.push('quit');
  }
}

class RecordingWindow implements RaisableWindow {
  calls: string[] = [];
  constructor(private readonly state: { destroyed?: boolean; minimized?: boolean } = {}) {}
  isDestroyed = () => this.state.destroyed === true;
  isMinimized = () => this.state.minimized === true;
  restore = () => void this.calls.push('restore');
  show = () => void this.calls.push('show');
  focus = () => void this.calls.push('focus');
}

describe('runSingleInstance', () => {
  it('without the lock: quits and never starts', () => {
    const app = new RecordingApp(false);
    let started = 0;
    expect(runSingleInstance(app, () => void started++, () => undefined)).toBe(false);
    expect(app.calls).toEqual(['lock', 'quit']);
    expect(started).toBe(0);
    expect(app.listenerCount('second-instance')).toBe(0);
  });

  it('with the lock: starts once and does not quit', () => {
    const app = new RecordingApp(true);
    let started = 0;
    expect(runSingleInstance(app, () => void started++, () => undefined)).toBe(true);
    expect(started).toBe(1);
    expect(app.calls).toEqual(['lock']);
  });

  it('a second launch raises and focuses the existing window', () => {
    const app = new RecordingApp(true);
    const win = new RecordingWindow({ minimized: true });
    runSingleInstance(app, () => {}, () => win);
    app.emit('second-instance', {}, ['offhost'], '/home/user', {});
    expect(win.calls).toEqual(['restore', 'show', 'focus']);

    const shown = new RecordingWindow(); // not minimised: nothing to restore
    const app2 = new RecordingApp(true);
    runSingleInstance(app2, () => {}, () => shown);
    app2.emit('second-instance');
    expect(shown.calls).toEqual(['show', 'focus']);
  });

  it('a second launch before the window exists, or after it closed, is harmless', () => {
    const app = new RecordingApp(true);
    let win: RecordingWindow | undefined;
    runSingleInstance(app, () => {}, () => win);
    expect(() => app.emit('second-instance')).not.toThrow();
    win = new RecordingWindow({ destroyed: true });
    app.emit('second-instance');
    expect(win.calls).toEqual([]);
  });
});
