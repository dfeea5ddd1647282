// Who may see content at /content/{guid}/ (Connect's access_type as far as the model has it), and
// what a proxied app receives and sends back (Offhost's credentials never forwarded; the API
// server's prefix undone).
import https from 'node:https';
import { describe, expect, it } from 'vitest';
import { canView } from '../../main/api/connect/serving';
import { forwardHeaders, responseHeaders, unprefix, type Upstream } from '../../main/content/proxy';
import type { ContentRecord } from '../../main/store/content-repo';
import type { CallContext } from '../../main/api/handlers';
import type { UserRecord } from '../../main/users/users';

const OWNER = '11111111-1111-4111-8111-111111111111';
const user = (guid: string, role: 'viewer' | 'publisher' | 'admin'): UserRecord => ({ guid, username: `u-${guid.slice(0, 4)}`, user_role: role }) as UserRecord;
const content = (over: Partial<ContentRecord>): ContentRecord => ({ guid: 'g', name: 'c', owner_guid: OWNER, access_type: 'acl', locked: false, locked_message: '', ...over }) as ContentRecord;
const callers: Record<string, CallContext | undefined> = {
  anonymous: undefined,
  owner: { actor: 'k1', role: 'publisher', user: user(OWNER, 'publisher') },
  admin: { actor: 'k2', role: 'admin', user: user('22222222-2222-4222-8222-222222222222', 'admin') },
  session: { actor: 's', role: 'admin', session: 1 },
  publisher: { actor: 'k3', role: 'publisher', user: user('33333333-3333-4333-8333-333333333333', 'publisher') },
  viewer: { actor: 'k4', role: 'viewer', user: user('44444444-4444-4444-8444-444444444444', 'viewer') },
  keyWithoutUser: { actor: 'k5', role: 'viewer' },
};

describe('canView', () => {
  // [access_type, locked, draft] → verdict for anonymous, owner, admin, session, publisher, viewer, keyWithoutUser
  it.each([
    ['acl', false, false, ['sign-in', 'yes', 'yes', 'yes', 'forbidden', 'forbidden', 'forbidden']],
    ['logged_in', false, false, ['sign-in', 'yes', 'yes', 'yes', 'yes', 'yes', 'yes']],
    ['all', false, false, ['yes', 'yes', 'yes', 'yes', 'yes', 'yes', 'yes']],
    ['all', true, false, ['sign-in', 'yes', 'yes', 'yes', 'forbidden', 'forbidden', 'forbidden']],
    ['all', false, true, ['sign-in', 'yes', 'yes', 'yes', 'forbidden', 'forbidden', 'forbidden']],
    ['logged_in', false, true, ['sign-in', 'yes', 'yes', 'yes', 'forbidden', 'forbidden', 'forbidden']],
  ] as const)('access_type %s, locked %s, draft %s', (access_type, locked, draft, want) => {
    const got = Object.values(callers).map((c) => canView(content({ access_type, locked }), c, draft));
    expect(got).toEqual(want);
  });

  it('content without an owner: only admins see it under acl', () => {
    const c = content({ owner_guid: null });
    expect(canView(c, callers.publisher, false)).toBe('forbidden');
    expect(canView(c, callers.keyWithoutUser, false)).toBe('forbidden');
    expect(canView(c, callers.admin, false)).toBe('yes');
  });
});

describe('what the app receives', () => {
  it("drops Offhost's key and session cookie, hop-by-hop headers and forwarded-* spoofing; keeps the app's own", () => {
    const out = forwardHeaders(
      {
        authorization: 'Key ohk_secret',
        cookie: 'a=1; offhost_session=abc; b=2',
        connection: 'keep-alive, x-custom-hop',
        'x-custom-hop': 'drop me',
        'keep-alive': 'timeout=5',
        'transfer-encoding': 'chunked',
        'x-forwarded-for': '6.6.6.6',
        accept: 'application/json',
        'x-app': 'kept',
      },
      { 'x-forwarded-host': 'offhost.example.com' },
    );
    expect(out).toEqual({ cookie: 'a=1; b=2', accept: 'application/json', 'x-app': 'kept', 'x-forwarded-host': 'offhost.example.com' });
  });

  it("keeps the app's own Authorization schemes, and no cookie header when only ours was sent", () => {
    expect(forwardHeaders({ authorization: 'Bearer app-token', cookie: 'offhost_session=abc' }, {})).toEqual({ authorization: 'Bearer app-token' });
  });

  it("undoes the API server's prefix in Location and in text", () => {
    const up = { base: new URL('https://127.0.0.1:6443/api/v1/namespaces/ns/services/offhost-job-7:http/proxy'), headers: {}, agent: new https.Agent(), apiPrefix: '/api/v1/namespaces/ns/services/offhost-job-7:http/proxy' } satisfies Upstream;
    const prefix = '/content/5d1e7a3c-0b8f-4c7e-9f6a-1b2c3d4e5f60';
    expect(responseHeaders({ location: 'https://127.0.0.1:6443/api/v1/namespaces/ns/services/offhost-job-7:http/proxy/login?next=/', 'audit-id': 'x', 'content-type': 'text/html' }, up, prefix)).toEqual({
      location: `${prefix}/login?next=/`,
      'content-type': 'text/html',
    });
    expect(unprefix('<a href="/api/v1/namespaces/ns/services/offhost-job-7:http/proxy/docs">x</a><a href="https://example.com/x">', up, prefix)).toBe(`<a href="${prefix}/docs">x</a><a href="https://example.com/x">`);
  });
});

describe('targetOf', () => {
  it('joins the base path and the request path with one slash', async () => {
    const { targetOf } = await import('../../main/content/proxy');
    const agent = new https.Agent();
    expect(targetOf({ base: new URL('http://10.0.0.5:8080'), headers: {}, agent }, '/echo?x=1').toString()).toBe('http://10.0.0.5:8080/echo?x=1');
    expect(targetOf({ base: new URL('https://h:6443/api/v1/namespaces/n/services/s:http/proxy'), headers: {}, agent }, '/').toString()).toBe('https://h:6443/api/v1/namespaces/n/services/s:http/proxy/');
    expect(targetOf({ base: new URL('https://h:6443/api/v1/namespaces/n/services/s:http/proxy'), headers: {}, agent }, '/a/b%20c').toString()).toBe('https://h:6443/api/v1/namespaces/n/services/s:http/proxy/a/b%20c');
  });
});
