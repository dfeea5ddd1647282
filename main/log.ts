// Structured logs: one JSON object per line on stdout (pino), the same in server and desktop mode.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(options: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const level = options.level ?? process.env.OFFHOST_LOG_LEVEL ?? 'info';
  return options.destination ? pino({ level, base: { app: 'offhost' } }, options.destination) : pino({ level, base: { app: 'offhost' } });
}

/** For tests and embedded use. */
export const silentLogger: Logger = pino({ level: 'silent' });
