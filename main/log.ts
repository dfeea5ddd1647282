// Structured logs: one JSON object per line on stdout (pino), the same in server and desktop mode.
import { pino, type DestinationStream, type Logger } from 'pino';
import { redactUrl } from './config';

export type { Logger };

export function createLogger(level = process.env.OFFHOST_LOG_LEVEL ?? 'info', destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { app: 'offhost' },
    // Whatever logs a request object (Fastify's error paths do) gets its URL without secrets.
    serializers: { req: (req: { method?: string; url?: string }) => ({ method: req.method, url: req.url === undefined ? undefined : redactUrl(req.url) }) },
  };
  return destination ? pino(options, destination) : pino(options);
}

/** For tests and embedded use. */
export const silentLogger: Logger = pino({ level: 'silent' });
