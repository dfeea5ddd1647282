// Who is asking, for every request but the probes: an API key ("Authorization: Key …") for
// scripts, or a browser session (cookie) opened with a single-use sign-in link. Browser requests
// must also name us in their Host header (against DNS rebinding) and, for writes, come from our
// own page (against cross-site request forgery). Nothing here writes to the database except
// spending a sign-in link.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../shared/errors';
import { SESSION_COOKIE, sessionActor } from '../auth/session';
import type { Core } from '../core';
import type { CallContext } from './handlers';
import { afterSignInLocation, allowedHostNames, cookieWriteAllowed, hostAllowed, hostName } from './request-guard';

declare module 'fastify' {
  interface FastifyRequest {
    caller?: CallContext;
  }
}

/** Paths that answer without credentials: liveness and readiness probes. */
export const PROBE_PATHS = new Set(['/healthz', '/readyz']);

export type SendError = (req: FastifyRequest, reply: FastifyReply, err: AppError) => unknown;

export function registerAuth(app: FastifyInstance, core: Core, sendError: SendError): void {
  const { config } = core;
  const allowedHosts = allowedHostNames({ listenHost: config.host, publicUrl: config.publicUrl, allowedHosts: config.allowedHosts });
  // Behind a TLS ingress the request reaching us is plain http; the public URL says what the browser sees.
  const secureCookie = (req: FastifyRequest) => req.protocol === 'https' || config.publicUrl?.protocol === 'https:';

  app.addHook('onRequest', async (req, reply) => {
    if (PROBE_PATHS.has(req.url.split('?')[0]!)) return;

    const auth = req.headers.authorization;
    if (auth !== undefined) {
      const m = /^Key\s+(\S+)\s*$/i.exec(auth);
      const key = m ? await core.apiKeys.verify(m[1]!) : undefined;
      // Connect's answer to a key it does not know: 401 with code 30, which rsconnect-python
      // turns into "The specified API key is not valid." and posit-sdk into ClientError(30).
      if (!key) return sendError(req, reply, new AppError('InvalidApiKey', 'The specified API key is not valid.'));
      req.caller = { actor: `api-key:${key.name} (#${key.id})`, role: key.user?.user_role ?? key.role, ...(key.user ? { user: key.user } : {}) };
      return;
    }

    if (!hostAllowed(req.host, allowedHosts)) {
      const name = hostName(req.host) ?? req.host;
      return sendError(req, reply, new AppError('Forbidden', `This server does not answer to the name ${JSON.stringify(truncate(name))}. Set OFFHOST_PUBLIC_URL (or OFFHOST_ALLOWED_HOSTS) to the name people use to reach it.`));
    }

    const token = (req.query as Record<string, unknown> | undefined)?.token;
    if (req.method === 'GET' && typeof token === 'string') {
      const signedIn = await core.sessions.signIn(token);
      if (!signedIn) return sendUnauthenticated(req, reply, sendError, 'This sign-in link was already used or has expired (links work once, for 15 minutes).');
      req.log.info({ session: signedIn.session.id, by: signedIn.session.createdBy }, 'browser signed in');
      reply.setCookie(SESSION_COOKIE, signedIn.cookie, { httpOnly: true, sameSite: 'strict', path: '/', maxAge: signedIn.maxAgeSeconds, secure: secureCookie(req) });
      return reply.redirect(afterSignInLocation(req.url), 303);
    }

    const session = await core.sessions.verify(req.cookies[SESSION_COOKIE]);
    if (!session) {
      // Content may be public (access_type "all"): its route decides, with no caller.
      if (req.url.startsWith('/content/')) return;
      return sendUnauthenticated(req, reply, sendError);
    }
    const write = cookieWriteAllowed({
      method: req.method,
      origin: header(req, 'origin'),
      secFetchSite: header(req, 'sec-fetch-site'),
      host: req.host,
    });
    if (!write.ok) return sendError(req, reply, new AppError('Forbidden', write.why));
    req.caller = { actor: sessionActor(session), role: 'admin', session: session.id };
  });

  app.post('/api/signout', async (req, reply) => {
    if (req.caller?.session === undefined) throw new AppError('InvalidRequest', 'Only a browser session can sign out; API keys are revoked with "offhost key revoke".');
    await core.sessions.revoke(req.caller.session);
    return reply.clearCookie(SESSION_COOKIE, { path: '/' }).code(204).send();
  });
}

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function truncate(s: string, max = 80): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

function sendUnauthenticated(req: FastifyRequest, reply: FastifyReply, sendError: SendError, why?: string) {
  const isApi = req.url.startsWith('/api/') || req.url.startsWith('/__api__');
  if (req.method === 'GET' && !isApi && (req.headers.accept ?? '').includes('text/html'))
    return reply
      .code(401)
      .type('text/html')
      .send(
        '<!doctype html><meta charset="utf-8"><title>Offhost: sign in</title><h1>Sign in to Offhost</h1>' +
          (why ? `<p>${why}</p>` : '') +
          '<p>Open the sign-in address the server printed when it started, or make a new one with ' +
          '<code>npx offhost login</code>. Scripts send an API key in an <code>Authorization: Key …</code> header.</p>',
      );
  return sendError(req, reply, new AppError('Unauthenticated', why ?? 'This needs credentials: an "Authorization: Key <api key>" header or a signed-in browser session.'));
}
