// The headless server: the built UI, the API contract over HTTP (POST /api/call/<method>, events
// over Server-Sent Events at /api/events) and the Connect-compatible REST API under /__api__.
// Everything but the probes (/healthz, /readyz) needs credentials (see http-auth.ts).
import fs from 'node:fs';
import type { ServerResponse } from 'node:http';
import path from 'node:path';
import fastifyCookie from '@fastify/cookie';
import fastifyStatic from '@fastify/static';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { EVENT_NAMES, EVENT_ROLES, roleAllows } from '../../shared/api';
import { AppError, ERRORS, type ErrorCode } from '../../shared/errors';
import { redactUrl } from '../config';
import type { Core } from '../core';
import { isDatabaseUnavailable } from '../store/db';
import { registerConnectRoutes } from './connect';
import { dispatch } from './handlers';
import { registerAuth } from './http-auth';
import { CONTENT_SECURITY_POLICY } from '../security';

export interface HttpServerOptions {
  /** The built renderer (dist/renderer); without it the UI routes say how to build it. */
  rendererDir?: string;
}

export interface HttpServer {
  app: FastifyInstance;
  /** Where this server listens. */
  url: string;
  /** The address people use: OFFHOST_PUBLIC_URL, or where it listens. */
  publicUrl: string;
  /** A new single-use sign-in address (the one printed at start comes from here). */
  newLoginUrl(createdBy: string): Promise<string>;
  close(): Promise<void>;
}

export async function startHttpServer(core: Core, options: HttpServerOptions = {}): Promise<HttpServer> {
  const { config } = core;
  const app = Fastify({
    loggerInstance: core.log as FastifyBaseLogger,
    // Fastify's own request log prints the raw URL, sign-in tokens included; ours redacts it.
    logController: new RequestLog(),
    // A hop count means: believe that many proxies in front of us.
    trustProxy: typeof config.trustProxy === 'number' ? hops(config.trustProxy) : config.trustProxy,
    bodyLimit: config.bodyLimitBytes,
    // Routes are matched case-sensitively and without trailing-slash games, like Connect's.
    routerOptions: { ignoreTrailingSlash: true },
  });
  await app.register(fastifyCookie);
  // Our own JSON parser, so a bad body gets JSON.parse's own explanation (with its position).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    if (body === '') return done(null, undefined);
    try {
      done(null, JSON.parse(body as string));
    } catch (e) {
      done(new AppError('UnparsableBody', `The request body is not valid JSON: ${(e as Error).message}.`), undefined);
    }
  });

  app.addHook('onSend', async (_req, reply) => {
    // Content pages (/content/…) set their own, looser policy: the UI's would break them.
    if (!reply.hasHeader('Content-Security-Policy')) reply.header('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header('Referrer-Policy', 'no-referrer');
    if (!reply.hasHeader('X-Frame-Options')) reply.header('X-Frame-Options', 'DENY');
  });

  // Liveness: the process answers. Readiness: and so does the database.
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (req, reply) => {
    try {
      await core.store.ping();
      return { status: 'ready' };
    } catch (err) {
      req.log.warn({ err: { message: (err as Error).message } }, 'readiness: the database does not answer');
      return reply.code(503).send({ status: 'unavailable', error: 'The database does not answer.' });
    }
  });

  registerAuth(app, core, sendError);

  app.setErrorHandler((err, req, reply) => sendError(req, reply, toAppError(err, req)));
  app.setNotFoundHandler((req, reply) => {
    if (req.method === 'GET' && !isApiPath(req.url) && options.rendererDir) return sendIndex(reply, options.rendererDir);
    return sendError(req, reply, new AppError('EndpointNotFound', `Nothing is served at ${req.method} ${truncate(req.url.split('?')[0]!)}.`));
  });

  app.post<{ Params: { method: string } }>('/api/call/:method', async (req) => {
    const result = await dispatch(core.handlers, req.params.method, req.body ?? undefined, req.caller!);
    return { result: result ?? null };
  });

  registerEvents(app, core);
  await registerConnectRoutes(app, core);

  if (options.rendererDir && fs.existsSync(path.join(options.rendererDir, 'index.html'))) {
    await app.register(fastifyStatic, {
      root: options.rendererDir,
      index: false,
      wildcard: true,
      setHeaders: (res, file) => {
        if (file.includes(`${path.sep}assets${path.sep}`)) res.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
      },
    });
    app.get('/', (_req, reply) => sendIndex(reply, options.rendererDir!));
  } else {
    app.get('/', (_req, reply) =>
      reply.code(503).type('text/plain').send('The UI is not built. Run "npm run build" (or start with "npm run serve", which builds it).'),
    );
  }

  await app.listen({ host: config.host, port: config.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${host}:${port}/`;
  const publicUrl = config.publicUrl?.toString() ?? url;
  return {
    app,
    url,
    publicUrl,
    newLoginUrl: async (createdBy) => `${publicUrl}?token=${await core.sessions.createLoginToken(createdBy)}`,
    close: () => app.close(),
  };
}

/** Server-Sent Events: each caller gets the events its role may read. */
function registerEvents(app: FastifyInstance, core: Core): void {
  // Open event streams never end by themselves, and close() waits for open requests: end them first.
  const streams = new Set<ServerResponse>();
  app.addHook('preClose', async () => {
    for (const res of streams) res.end();
  });

  app.get('/api/events', (req, reply) => {
    const role = req.caller!.role;
    const names = EVENT_NAMES.filter((name) => roleAllows(role, EVENT_ROLES[name]!));
    if (names.length === 0) throw new AppError('Forbidden', `No events are sent to the ${role} role.`);
    reply.hijack();
    const res = reply.raw;
    streams.add(res);
    res.writeHead(200, {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'Content-Security-Policy': CONTENT_SECURITY_POLICY,
      'X-Content-Type-Options': 'nosniff',
    });
    res.write(': connected\n\n');
    const offs = names.map((name) => core.events.on(name, (payload) => res.write(`event: ${name}\ndata: ${JSON.stringify(payload)}\n\n`)));
    const heartbeat = setInterval(() => res.write(': ping\n\n'), 25_000);
    req.raw.on('close', () => {
      streams.delete(res);
      clearInterval(heartbeat);
      offs.forEach((off) => off());
    });
  });
}

/** One line per request when it completes, with secrets in the query redacted and who asked. */
class RequestLog extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, req: FastifyRequest, reply: FastifyReply): void {
    const line = { method: req.method, url: redactUrl(req.url), status: reply.statusCode, ms: Math.round(reply.elapsedTime), actor: req.caller?.actor };
    if (error) reply.log.error({ ...line, err: error }, 'request failed');
    else reply.log.info(line, 'request');
  }
}

function hops(n: number) {
  return (_address: string, hop: number) => hop < n;
}

function truncate(s: string, max = 200): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

function isApiPath(url: string): boolean {
  return url.startsWith('/api/') || url.startsWith('/__api__');
}

function sendIndex(reply: FastifyReply, rendererDir: string) {
  return reply.header('Cache-Control', 'no-store').type('text/html').sendFile('index.html', rendererDir);
}

/** Fastify's own errors (body parsing, limits) become AppErrors with messages a person can act on. */
function toAppError(err: unknown, req: FastifyRequest): AppError {
  if (err instanceof AppError) return err;
  const e = err as { code?: string; statusCode?: number; message?: string };
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('BodyTooLarge', `The request body is larger than the ${Math.round(req.routeOptions.bodyLimit! / 1024)} KiB limit.`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('InvalidRequest', `Send the body as JSON with "Content-Type: application/json" (got ${req.headers['content-type'] ?? 'none'}).`);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError('UnparsableBody', 'The request body is empty; send a JSON object.');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new AppError('UnparsableBody', `The request body is not valid JSON: ${e.message}`);
  }
  if (isDatabaseUnavailable(err)) {
    req.log.warn({ err: { message: e.message, code: e.code } }, 'database busy or unreachable');
    return new AppError('Unavailable', 'The database is busy or cannot be reached; try again in a moment.');
  }
  if (err instanceof SyntaxError) return new AppError('UnparsableBody', `The request body is not valid JSON: ${err.message}`);
  if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) return new AppError('InvalidRequest', e.message ?? 'Bad request.');
  req.log.error({ err }, 'unexpected error');
  return new AppError('Internal', 'Something went wrong inside Offhost; the server log has the details.');
}

export function sendError(req: FastifyRequest, reply: FastifyReply, err: AppError) {
  reply.code(err.status);
  if (req.url.startsWith('/__api__')) {
    // Connect's error shape: a numeric code, a message, a payload; our field name rides along.
    return reply.send({ code: ERRORS[err.code as ErrorCode].connect, error: err.message, payload: null, ...(err.field ? { field: err.field } : {}) });
  }
  return reply.send({ error: err.toBody() });
}
