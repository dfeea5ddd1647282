// Structured logs: one JSON object per line on stdout (pino), the same in server and desktop mode.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level = process.env.OFFHOST_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { app: 'offhost' } });
}

/** For tests and embedded use. */
export const silentLogger: Logger = pino({ level: 'silent' });
