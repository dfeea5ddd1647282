// Pure checks for what a browser may ask of the server (kept apart from Fastify so each rule is
// unit-tested): which Host names we answer to, which cookie-carrying writes we accept, and where a
// sign-in may redirect.

/** Host names a browser may use to reach us: loopback always, plus the configured ones. */
export function allowedHostNames(opts: { listenHost: string; publicUrl: URL | null; allowedHosts: string[] }): Set<string> {
  const names = new Set(['localhost', '127.0.0.1', '::1']);
  const listen = bare(opts.listenHost.toLowerCase());
  // A wildcard address says nothing about the name people use; OFFHOST_PUBLIC_URL does.
  if (listen !== '0.0.0.0' && listen !== '::' && listen !== '') names.add(listen);
  if (opts.publicUrl) names.add(bare(opts.publicUrl.hostname.toLowerCase()));
  for (const h of opts.allowedHosts) names.add(bare(h.toLowerCase()));
  return names;
}

/** Whether a Host header names us. A DNS-rebinding page reaches 127.0.0.1 under its own name, so
 *  any other name is refused. Loopback addresses (127.0.0.0/8) count as loopback. */
export function hostAllowed(hostHeader: string | undefined, allowed: Set<string>): boolean {
  const name = hostName(hostHeader);
  if (name === undefined) return false;
  return allowed.has(name) || (allowed.has('127.0.0.1') && /^127(\.\d{1,3}){3}$/.test(name));
}

/** The name part of a Host header ("[::1]:3939" → "::1"), lower-case; undefined when malformed. */
export function hostName(hostHeader: string | undefined): string | undefined {
  if (!hostHeader) return undefined;
  const h = hostHeader.trim().toLowerCase();
  const m = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:\d{1,5})?$/.exec(h);
  if (!m) return undefined;
  return bare(m[1]!.replace(/\.$/, ''));
}

function bare(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/**
 * Whether a request that rides on the session cookie may change something. The cookie goes along
 * with any request the browser makes, so a write must come from our own page: the browser's
 * Sec-Fetch-Site, when it sends one, must say same-origin, and an Origin, when sent, must be ours
 * (`null`, from sandboxed frames and some redirects, is not).
 */
export function cookieWriteAllowed(req: { method: string; origin?: string; secFetchSite?: string; host?: string }): { ok: true } | { ok: false; why: string } {
  if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return { ok: true };
  if (req.secFetchSite !== undefined && req.secFetchSite !== 'same-origin')
    return { ok: false, why: `Changes are accepted only from Offhost's own pages (this request is ${req.secFetchSite}).` };
  if (req.origin !== undefined) {
    let originHost: string | undefined;
    try {
      const u = new URL(req.origin);
      originHost = u.protocol === 'http:' || u.protocol === 'https:' ? u.host : undefined;
    } catch {
      originHost = undefined;
    }
    if (originHost === undefined || originHost.toLowerCase() !== (req.host ?? '').toLowerCase())
      return { ok: false, why: 'Cross-origin requests are not accepted.' };
  }
  return { ok: true };
}

/** Where to send the browser after a sign-in link: the same path on this server without the
 *  token, never another site (a path starting with // or /\ would be read as one). */
export function afterSignInLocation(requestUrl: string): string {
  const q = requestUrl.indexOf('?');
  let pathPart = q < 0 ? requestUrl : requestUrl.slice(0, q);
  const params = new URLSearchParams(q < 0 ? '' : requestUrl.slice(q + 1));
  params.delete('token');
  pathPart = pathPart.replace(/\\/g, '/');
  // Resolve dot segments and duplicate slashes against a fixed origin, then keep only the path.
  const resolved = new URL(`http://offhost.invalid/${pathPart.replace(/^\/+/, '')}`);
  if (resolved.host !== 'offhost.invalid') return '/';
  const pathname = `/${resolved.pathname.replace(/^\/+/, '')}`;
  const search = params.toString();
  return pathname + (search ? `?${search}` : '');
}
