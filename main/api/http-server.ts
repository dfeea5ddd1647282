// The headless server: the built UI, the API contract over HTTP (POST /api/call/<method>, events
// over Server-Sent Events at /api/events) and the Connect-compatible REST API under /__api__.
// Everything but /healthz needs credentials: a session cookie (from the printed login URL) or
// "Authorization: Key <api key>".
import fs from 'node:fs';
import type { ServerResponse } from 'node:http';
import path from 'node:path';
import fastifyCookie from '@fastify/cookie';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { EVENT_NAMES } from '../../shared/api';
import { AppError, ERRORS, type ErrorCode } from '../../shared/errors';
import { SESSION_COOKIE, Sessions } from '../auth/session';
import type { Core } from '../core';
import { settingsRepo } from '../store/settings-repo';
import { registerConnectRoutes } from './connect-routes';
import { dispatch, type CallContext } from './handlers';
import { CONTENT_SECURITY_POLICY } from '../security';

declare module 'fastify' {
  interface FastifyRequest {
    caller?: CallContext;
  }
}


export interface HttpServerOptions {
  /** The built renderer (dist/renderer); without it the UI routes say how to build it. */
  rendererDir?: string;
}

export interface HttpServer {
  app: FastifyInstance;
  sessions: Sessions;
  /** The address to open in a browser, with the login token. */
  loginUrl: string;
  url: string;
  close(): Promise<void>;
}

export async function startHttpServer(core: Core, options: HttpServerOptions = {}): Promise<HttpServer> {
  const { config } = core;
  const secret = await settingsRepo.getOrInit(core.store.db, 'session_secret', Sessions.newSecret());
  const sessions = new Sessions(secret, config.token ?? Sessions.newToken());
  const app = Fastify({
    loggerInstance: core.log as FastifyBaseLogger,
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
    reply.header('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header('Referrer-Policy', 'no-referrer');
    reply.header('X-Frame-Options', 'DENY');
  });

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.addHook('onRequest', async (req, reply) => {
    if (req.url === '/healthz') return;
    const caller = await authenticate(core, sessions, req, reply);
    if (reply.sent) return;
    if (!caller) return sendUnauthenticated(req, reply);
    req.caller = caller;
  });

  app.setErrorHandler((err, req, reply) => sendError(req, reply, toAppError(err, req)));
  app.setNotFoundHandler((req, reply) => {
    if (req.method === 'GET' && !isApiPath(req.url) && options.rendererDir) return sendIndex(reply, options.rendererDir);
    return sendError(req, reply, new AppError('EndpointNotFound', `Nothing is served at ${req.method} ${req.url.split('?')[0]}.`));
  });

  app.post<{ Params: { method: string } }>('/api/call/:method', async (req) => {
    const result = await dispatch(core.handlers, req.params.method, req.body ?? undefined, req.caller!);
    return { result: result ?? null };
  });

  // Open event streams never end by themselves, and close() waits for open requests: end them first.
  const streams = new Set<ServerResponse>();
  app.addHook('preClose', async () => {
    for (const res of streams) res.end();
  });

  app.get('/api/events', (req, reply) => {
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
    const offs = EVENT_NAMES.map((name) => core.events.on(name, (payload) => res.write(`event: ${name}\ndata: ${JSON.stringify(payload)}\n\n`)));
    const heartbeat = setInterval(() => res.write(': ping\n\n'), 25_000);
    req.raw.on('close', () => {
      streams.delete(res);
      clearInterval(heartbeat);
      offs.forEach((off) => off());
    });
  });

  registerConnectRoutes(app, core);

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
  return { app, sessions, url, loginUrl: `${url}?token=${sessions.loginToken}`, close: () => app.close() };
}

function isApiPath(url: string): boolean {
  return url.startsWith('/api/') || url.startsWith('/__api__');
}

function sendIndex(reply: FastifyReply, rendererDir: string) {
  return reply.header('Cache-Control', 'no-store').type('text/html').sendFile('index.html', rendererDir);
}

async function authenticate(core: Core, sessions: Sessions, req: FastifyRequest, reply: FastifyReply): Promise<CallContext | undefined> {
  const auth = req.headers.authorization;
  if (auth !== undefined) {
    const m = /^Key\s+(\S+)\s*$/i.exec(auth);
    const key = m ? await core.apiKeys.verify(m[1]!) : undefined;
    return key && { actor: `api-key:${key.name} (#${key.id})`, role: key.role };
  }

  const token = (req.query as Record<string, unknown> | undefined)?.token;
  if (req.method === 'GET' && typeof token === 'string') {
    if (!sessions.checkLoginToken(token)) return undefined;
    const cookie = sessions.issue();
    reply.setCookie(SESSION_COOKIE, cookie.value, { httpOnly: true, sameSite: 'strict', path: '/', maxAge: cookie.maxAgeSeconds, secure: req.protocol === 'https' });
    const clean = new URL(req.url, 'http://x');
    clean.searchParams.delete('token');
    reply.redirect(clean.pathname + clean.search, 303);
    return undefined;
  }

  if (!sessions.verify(req.cookies[SESSION_COOKIE])) return undefined;
  // A cookie rides along on any request the browser makes, so refuse writes from other origins.
  const origin = req.headers.origin;
  if (req.method !== 'GET' && req.method !== 'HEAD' && origin !== undefined && new URL(origin).host !== req.headers.host) {
    sendError(req, reply, new AppError('Forbidden', 'Cross-origin requests are not accepted.'));
    return undefined;
  }
  return { actor: 'console', role: 'admin' };
}

function sendUnauthenticated(req: FastifyRequest, reply: FastifyReply) {
  const wantsHtml = req.method === 'GET' && !isApiPath(req.url) && (req.headers.accept ?? '').includes('text/html');
  if (wantsHtml)
    return reply
      .code(401)
      .type('text/html')
      .send(
        '<!doctype html><meta charset="utf-8"><title>Offhost: sign in</title><h1>Sign in to Offhost</h1>' +
          '<p>Open the address the server printed when it started (it ends in <code>?token=…</code>), ' +
          'or send an API key in an <code>Authorization: Key …</code> header.</p>',
      );
  return sendError(req, reply, new AppError('Unauthenticated', 'This needs credentials: an "Authorization: Key <api key>" header or a signed-in browser session.'));
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
