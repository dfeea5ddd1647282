// Issue 6 item 7: what the desktop window may navigate to, open, and ask for.
// main.ts wires these decisions to will-navigate, will-redirect, will-frame-navigate,
// setWindowOpenHandler and the session's permission handlers.
import { describe, expect, it } from 'vitest';
import { checkExternalUrl, HELP_LINKS } from '../../main/electron/external';
import { decideWindowOpen, navigationAllowed, permissionAllowed, windowWebPreferences } from '../../main/electron/policy';

describe('navigationAllowed (will-navigate, will-redirect, will-frame-navigate)', () => {
  it("allows our page in the window's main frame", () => {
    expect(navigationAllowed('app://offhost/index.html', true)).toBe(true);
    expect(navigationAllowed('app://offhost/index.html#/environments', true)).toBe(true);
  });

  it('refuses every other destination, including look-alikes of ours', () => {
    for (const url of [
      'https://evil.example/',
      'http://127.0.0.1:3939/',
      'file:///etc/passwd',
      'about:blank',
      'data:text/html,hi',
      'javascript:alert(1)',
      'app://offhost.evil/index.html',
      'app://offhost@evil/index.html',
      'app://evil/index.html',
      'APP://offhost/index.html',
      'https://docs.posit.co/connect/', // even an allowlisted help link: it opens in the browser, never in our window
      '',
    ])
      expect(navigationAllowed(url, true), url).toBe(false);
  });

  it('refuses all subframe navigation: our page has no frames', () => {
    expect(navigationAllowed('app://offhost/index.html', false)).toBe(false);
    expect(navigationAllowed('https://evil.example/', false)).toBe(false);
  });
});

describe('checkExternalUrl (the shell.openExternal allowlist)', () => {
  it('has a non-empty allowlist of exact https hosts and path prefixes', () => {
    expect(HELP_LINKS.length).toBeGreaterThan(0);
    for (const { host, pathPrefix } of HELP_LINKS) {
      expect(host).toMatch(/^[a-z0-9.-]+$/);
      expect(pathPrefix).toMatch(/^\/.*\/$/);
    }
  });

  it('accepts our help pages and returns the normalised URL it checked', () => {
    expect(checkExternalUrl('https://docs.posit.co/connect/admin/appendix/off-host/')).toEqual({ ok: true, url: 'https://docs.posit.co/connect/admin/appendix/off-host/' });
    expect(checkExternalUrl('https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/#Quantity')).toMatchObject({ ok: true });
    expect(checkExternalUrl('https://DOCS.POSIT.CO/connect/')).toEqual({ ok: true, url: 'https://docs.posit.co/connect/' });
  });

  it('refuses everything else, saying why', () => {
    const refused = [
      'http://docs.posit.co/connect/', // https only
      'https://docs.posit.co.evil.example/connect/', // look-alike hosts
      'https://evil.example/docs.posit.co/connect/',
      'https://evildocs.posit.co/connect/',
      'https://sub.docs.posit.co/connect/', // exact host, no subdomains
      'https://docs.posit.co./connect/', // trailing dot
      'https://docs.posit.co@evil.example/connect/', // credentials tricks
      'https://user:pw@docs.posit.co/connect/',
      'https://docs.posit.co:8443/connect/', // another port
      'https://docs.posit.co/', // outside the path prefix
      'https://docs.posit.co/connectevil/',
      'https://kubernetes.io/docs/../blog/', // normalises to /blog/
      'https://kubernetes.io/docs%2f..%2f..%2fblog/',
      'file:///etc/passwd',
      'javascript:alert(1)',
      'mailto:a@b.c',
      'smb://docs.posit.co/connect/',
      'ms-settings:',
      '//docs.posit.co/connect/',
      'not a url',
      '',
      `https://docs.posit.co/connect/${'a'.repeat(5000)}`, // absurdly long
    ];
    for (const url of refused) {
      const r = checkExternalUrl(url);
      expect(r.ok, url).toBe(false);
      if (!r.ok) expect(r.reason, url).toMatch(/\w/);
    }
  });

  it('refuses non-strings without throwing', () => {
    for (const v of [undefined, null, 42, {}, ['https://docs.posit.co/connect/']]) expect(checkExternalUrl(v as unknown as string).ok).toBe(false);
  });
});

describe('decideWindowOpen (window.open, target=_blank)', () => {
  it('never opens a window; hands allowlisted help links to the browser', () => {
    expect(decideWindowOpen('https://docs.posit.co/connect/')).toEqual({ action: 'deny', openExternal: 'https://docs.posit.co/connect/' });
    for (const url of ['https://evil.example/', 'http://docs.posit.co/connect/', 'app://offhost/index.html', 'file:///etc/passwd', 'about:blank'])
      expect(decideWindowOpen(url), url).toEqual({ action: 'deny' });
  });
});

describe('permissionAllowed (setPermissionRequestHandler, setPermissionCheckHandler)', () => {
  it('denies every permission: the UI needs none', () => {
    for (const p of ['media', 'geolocation', 'notifications', 'openExternal', 'clipboard-read', 'clipboard-sanitized-write', 'fullscreen', 'hid', 'usb', 'serial', 'midiSysex', 'display-capture', 'fileSystem', 'local-fonts', 'unknown', ''])
      expect(permissionAllowed(p), p).toBe(false);
  });
});

describe('windowWebPreferences', () => {
  it('isolates and sandboxes the page, with no Node, no webviews, no insecure content', () => {
    const prefs = windowWebPreferences('/app/dist/preload/preload.cjs');
    expect(prefs).toMatchObject({
      preload: '/app/dist/preload/preload.cjs',
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      navigateOnDragDrop: false,
      experimentalFeatures: false,
    });
    expect(prefs).not.toHaveProperty('enableBlinkFeatures');
  });
});
