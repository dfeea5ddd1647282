// Issue 6 item 2: the IPC sender check must admit our own page's main frame and nothing else.
// (The check it replaces compared `new URL(frame.url).origin` with 'app://offhost'; for a
// non-special scheme that origin is the string "null", so it refused our page too.)
import { describe, expect, it } from 'vitest';
import { describeSender, isAppUrl, isTrustedSender, type FrameRef } from '../../main/electron/sender';

const OUR_PAGE = 'app://offhost/index.html';
const main: FrameRef = { url: OUR_PAGE, processId: 7, routingId: 1 };
const frame = (url: string, over: Partial<FrameRef> = {}): FrameRef => ({ ...main, url, ...over });

describe('isAppUrl', () => {
  it('accepts our pages, with paths, queries and fragments', () => {
    for (const url of [OUR_PAGE, 'app://offhost/', 'app://offhost/index.html#/environments', 'app://offhost/index.html?x=1'])
      expect(isAppUrl(url), url).toBe(true);
  });

  it('refuses everything else, without throwing', () => {
    const refused = [
      'null', // what `new URL(our page).origin` prints, and a sender's origin for data:/about: pages
      '',
      'about:blank',
      'data:text/html,<script>1</script>',
      'file:///index.html',
      'file://offhost/index.html',
      'http://offhost/index.html',
      'https://offhost/index.html',
      'app://other/index.html',
      'app://offhost.evil/index.html', // look-alike hosts
      'app://offhost.evil.com/',
      'app://evil.offhost/',
      'app://offhost@evil/index.html', // credentials tricks: the host is "evil"
      'app://user@offhost/index.html',
      'app://offhost:1234/index.html',
      'app://offhost', // no path: Chromium always reports standard-scheme URLs with one
      'APP://offhost/index.html', // not the canonical form Chromium reports
      'App://offhost/index.html',
      'app://OFFHOST/index.html',
      'app:offhost/index.html',
      'app:/offhost/index.html',
      'app:///offhost/index.html',
      'app:\\\\offhost\\index.html',
      ' app://offhost/index.html',
      'javascript:app://offhost/',
      'blob:app://offhost/0b5a3b2e-1d8c-4b39-9d47-1e6a9c1f2a11',
      'not a url',
    ];
    for (const url of refused) expect(isAppUrl(url), url).toBe(false);
  });
});

describe('isTrustedSender', () => {
  it("accepts our window's main frame showing our page", () => {
    expect(isTrustedSender(frame(OUR_PAGE), main)).toBe(true);
    expect(isTrustedSender(frame('app://offhost/index.html#/audit'), main)).toBe(true);
  });

  it('refuses a missing frame, or a window without a main frame', () => {
    expect(isTrustedSender(null, main)).toBe(false);
    expect(isTrustedSender(undefined, main)).toBe(false);
    expect(isTrustedSender(frame(OUR_PAGE), null)).toBe(false);
    expect(isTrustedSender(frame(OUR_PAGE), undefined)).toBe(false);
  });

  it('refuses frames showing anything but our page', () => {
    for (const url of ['null', 'about:blank', 'file:///etc/passwd', 'http://127.0.0.1:3939/', 'https://evil.example/', 'app://offhost.evil/', 'app://offhost@evil/', 'APP://offhost/index.html'])
      expect(isTrustedSender(frame(url), { ...main, url }), url).toBe(false);
  });

  it('refuses subframes and other frames, even when they show our page', () => {
    expect(isTrustedSender(frame(OUR_PAGE, { routingId: 2 }), main)).toBe(false); // an iframe in our page
    expect(isTrustedSender(frame(OUR_PAGE, { processId: 8 }), main)).toBe(false); // another renderer process
    expect(isTrustedSender(frame(OUR_PAGE, { processId: 8, routingId: 2 }), main)).toBe(false);
  });

  it('refuses a frame that has been detached (navigated away or destroyed)', () => {
    expect(isTrustedSender(frame(OUR_PAGE, { detached: true }), main)).toBe(false);
  });

  it('refuses frames with nonsense ids instead of matching them', () => {
    const nan = { processId: Number.NaN, routingId: Number.NaN };
    expect(isTrustedSender(frame(OUR_PAGE, nan), { ...main, ...nan })).toBe(false);
  });

  it('refuses, without throwing, a frame whose properties throw (a disposed WebFrameMain does)', () => {
    const disposed = {
      get url(): string { throw new Error('Render frame was disposed before WebFrameMain could be accessed'); },
      get processId(): number { throw new Error('disposed'); },
      get routingId(): number { throw new Error('disposed'); },
      get detached(): boolean { throw new Error('disposed'); },
    };
    expect(isTrustedSender(disposed, main)).toBe(false);
    expect(isTrustedSender(frame(OUR_PAGE), disposed)).toBe(false);
  });
});

describe('describeSender (for the log line of a refused call)', () => {
  it('names the URL, shortened, and never throws', () => {
    expect(describeSender(frame('https://evil.example/x'))).toBe('https://evil.example/x');
    expect(describeSender(frame(`https://evil.example/${'a'.repeat(500)}`))).toHaveLength(200);
    expect(describeSender(null)).toBe('(no frame)');
    expect(describeSender({ get url(): string { throw new Error('disposed'); }, processId: 1, routingId: 1 })).toBe('(disposed frame)');
  });
});

