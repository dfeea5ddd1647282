import { describe, expect, it } from 'vitest';
import { Sessions } from '../../main/auth/session';

describe('browser sessions', () => {
  const now = 1_800_000_000_000;
  const sessions = new Sessions('secret-one', 'login-token', () => now);

  it('checks the login token exactly', () => {
    expect(sessions.checkLoginToken('login-token')).toBe(true);
    expect(sessions.checkLoginToken('login-toke')).toBe(false);
    expect(sessions.checkLoginToken('')).toBe(false);
  });

  it('issues cookies it later accepts', () => {
    const { value, maxAgeSeconds } = sessions.issue();
    expect(value).toMatch(/^v1\.\d+\.[\w-]{43}$/);
    expect(maxAgeSeconds).toBe(14 * 86400);
    expect(sessions.verify(value)).toBe(true);
  });

  it('rejects tampered, foreign, expired and malformed cookies', () => {
    const { value } = sessions.issue();
    const [v, exp, sig] = value.split('.');
    expect(sessions.verify(`${v}.${Number(exp) + 1}.${sig}`)).toBe(false);
    expect(new Sessions('secret-two', 't', () => now).verify(value)).toBe(false);
    expect(new Sessions('secret-one', 't', () => now + 15 * 86400_000).verify(value)).toBe(false);
    for (const bad of [undefined, '', 'v1', 'v2.1.x', `${value}x`]) expect(sessions.verify(bad)).toBe(false);
  });

  it('makes new secrets and tokens each time', () => {
    expect(Sessions.newSecret()).not.toBe(Sessions.newSecret());
    expect(Sessions.newToken()).toMatch(/^[0-9a-f]{48}$/);
  });
});
