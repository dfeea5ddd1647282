// Keeps a long-lived session with the apiserver (a list-then-watch) going until stopped: again at
// once when it ends normally, as watches do every few minutes (but never more than once per
// `initial` ms), and after a failure with exponential backoff. Shared by the launcher and the
// LimitRange sync, so both treat a cluster that goes away the same way.
export interface Backoff {
  initial: number;
  max: number;
}

export class Reconnector {
  private stopped = false;
  private wake: (() => void) | undefined;

  constructor(private readonly backoff: Backoff) {}

  /** Runs `session` until stop(); the session calls `healthy()` once it is working, which resets
   *  the backoff. `failed` hears each failure and the wait before the next try. */
  async run(session: (healthy: () => void) => Promise<void>, failed: (error: unknown, retryInMs: number) => void): Promise<void> {
    const { initial, max } = this.backoff;
    let delay = initial;
    while (!this.stopped) {
      try {
        const started = Date.now();
        await session(() => (delay = initial));
        if (Date.now() - started < 1000) await this.sleep(initial);
      } catch (e) {
        if (this.stopped) break;
        failed(e, delay);
        await this.sleep(delay);
        delay = Math.min(delay * 2, max);
      }
    }
  }

  /** run() ends at its next step; a wait in progress is cut short. */
  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  private async sleep(ms: number): Promise<void> {
    if (this.stopped) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
    this.wake = undefined;
  }
}
