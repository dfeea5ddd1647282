// Browser sessions for the headless server, the way Jupyter does it: the server prints a URL with
// a one-off token; opening it sets a signed, HttpOnly, SameSite=Strict cookie. The signing secret
// lives in the database, so sessions survive restarts and work across instances sharing it.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const SESSION_COOKIE = 'offhost_session';
const SESSION_DAYS = 14;

export class Sessions {
  constructor(
    private readonly secret: string,
    readonly loginToken: string,
    private readonly now = () => Date.now(),
  ) {}

  static newSecret(): string {
    return randomBytes(32).toString('base64url');
  }

  static newToken(): string {
    return randomBytes(24).toString('hex');
  }

  checkLoginToken(candidate: string): boolean {
    return safeEqual(candidate, this.loginToken);
  }

  issue(): { value: string; maxAgeSeconds: number } {
    const expires = Math.floor(this.now() / 1000) + SESSION_DAYS * 86400;
    const body = `v1.${expires}`;
    return { value: `${body}.${this.sign(body)}`, maxAgeSeconds: SESSION_DAYS * 86400 };
  }

  verify(value: string | undefined): boolean {
    if (!value) return false;
    const m = /^(v1\.(\d{1,12}))\.([A-Za-z0-9_-]{43})$/.exec(value);
    if (!m) return false;
    if (Number(m[2]) * 1000 < this.now()) return false;
    return safeEqual(m[3]!, this.sign(m[1]!));
  }

  private sign(body: string): string {
    return createHmac('sha256', this.secret).update(body).digest('base64url');
  }
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
