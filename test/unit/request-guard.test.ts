import { describe, expect, it } from 'vitest';
import { afterSignInLocation, allowedHostNames, cookieWriteAllowed, hostAllowed, hostName } from '../../main/api/request-guard';

describe('Host allowlist (DNS rebinding)', () => {
  const loopbackOnly = allowedHostNames({ listenHost: '127.0.0.1', publicUrl: null, allowedHosts: [] });

  it.each(['127.0.0.1:3939', 'localhost:3939', 'LOCALHOST', '[::1]:3939', '127.0.0.2:80', 'localhost.'])('answers to %s', (host) => {
    expect(hostAllowed(host, loopbackOnly)).toBe(true);
  });

  it.each([
    'evil.example:3939', // a rebinding name resolving to 127.0.0.1
    'localhost.evil.example',
    '127.0.0.1.nip.io',
    '0.0.0.0:3939',
    '',
    'localhost:3939:1',
    'local host',
    'user@localhost',
    '[::1',
  ])('refuses %j', (host) => {
    expect(hostAllowed(host, loopbackOnly)).toBe(false);
  });

  it('refuses a missing Host header', () => {
    expect(hostAllowed(undefined, loopbackOnly)).toBe(false);
  });

  it('adds the public URL, the listen address (unless a wildcard) and the extra names', () => {
    const names = allowedHostNames({
      listenHost: '0.0.0.0',
      publicUrl: new URL('https://Offhost.Example.com/'),
      allowedHosts: ['offhost.ns.svc', '[fd00::1]'],
    });
    expect([...names].sort()).toEqual(['127.0.0.1', '::1', 'fd00::1', 'localhost', 'offhost.example.com', 'offhost.ns.svc']);
    expect(hostAllowed('offhost.example.com', names)).toBe(true);
    expect(hostAllowed('[fd00::1]:3939', names)).toBe(true);
    expect(hostAllowed('10.0.0.5:3939', names)).toBe(false);
    expect(allowedHostNames({ listenHost: 'box.lan', publicUrl: null, allowedHosts: [] }).has('box.lan')).toBe(true);
    expect(allowedHostNames({ listenHost: '::', publicUrl: null, allowedHosts: [] }).has('::')).toBe(false);
  });

  it('reads the name out of a Host header', () => {
    expect(hostName('[::1]:3939')).toBe('::1');
    expect(hostName('Example.COM:80')).toBe('example.com');
    expect(hostName('a/b')).toBeUndefined();
  });
});

describe('writes that ride on the session cookie', () => {
  const host = '127.0.0.1:3939';
  it('allows reads from anywhere (SameSite=Strict keeps the cookie off cross-site requests anyway)', () => {
    expect(cookieWriteAllowed({ method: 'GET', origin: 'http://evil.example', secFetchSite: 'cross-site', host }).ok).toBe(true);
  });

  it('allows a write from our own page', () => {
    expect(cookieWriteAllowed({ method: 'POST', origin: 'http://127.0.0.1:3939', secFetchSite: 'same-origin', host }).ok).toBe(true);
    expect(cookieWriteAllowed({ method: 'DELETE', host }).ok).toBe(true); // non-browser client with a cookie
  });

  it.each([
    [{ secFetchSite: 'cross-site' }, /cross-site/],
    [{ secFetchSite: 'same-site' }, /same-site/], // another port on localhost is same-site
    [{ secFetchSite: 'none' }, /none/],
    [{ origin: 'null' }, /Cross-origin/],
    [{ origin: 'http://evil.example' }, /Cross-origin/],
    [{ origin: 'http://127.0.0.1:8080' }, /Cross-origin/],
    [{ origin: 'file://' }, /Cross-origin/],
    [{ origin: 'not a url' }, /Cross-origin/],
  ])('refuses a write with %j', (headers, why) => {
    const r = cookieWriteAllowed({ method: 'POST', host, ...headers });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.why).toMatch(why);
  });
});

describe('where a sign-in link redirects', () => {
  it.each([
    ['/?token=abc', '/'],
    ['/environments?token=abc&x=1', '/environments?x=1'],
    ['/.//evil.com?token=abc', '/evil.com'],
    ['//evil.com/?token=abc', '/evil.com/'],
    ['/\\evil.com?token=abc', '/evil.com'],
    ['/%2F%2Fevil.com?token=abc', '/%2F%2Fevil.com'],
    ['/a/../../b?token=t', '/b'],
    ['/x?token=a&token=b', '/x'],
  ])('%s → %s, on this server', (from, to) => {
    const location = afterSignInLocation(from);
    expect(location).toBe(to);
    // However a browser resolves it, it stays on our origin.
    expect(new URL(location, 'http://127.0.0.1:3939/').origin).toBe('http://127.0.0.1:3939');
  });
});
