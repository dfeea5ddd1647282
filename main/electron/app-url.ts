// Where the desktop UI lives: app://offhost/, served by our protocol handler (see protocol.ts).
// Pure (no 'electron' import) so the checks run under plain Node in the unit tests.
export const APP_SCHEME = 'app';
export const APP_HOST = 'offhost';
/** Every URL of our page starts with exactly this; Chromium reports frame URLs of a standard scheme in this canonical form. */
export const APP_PREFIX = `${APP_SCHEME}://${APP_HOST}/`;
export const APP_ENTRY = `${APP_PREFIX}index.html`;

/**
 * Is this URL one of our own pages? Compares scheme and host, never `URL.origin`: for a
 * non-special scheme like app: Node and Electron give the origin "null", which equals nothing
 * useful. Two checks that must agree: the literal canonical prefix (refuses other cases,
 * credentials, ports, look-alike hosts as plain text) and the parsed URL (refuses anything the
 * parser reads differently from the text).
 */
export function isAppUrl(url: string): boolean {
  if (typeof url !== 'string' || !url.startsWith(APP_PREFIX)) return false;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  return parsed.protocol === `${APP_SCHEME}:` && parsed.host === APP_HOST && parsed.username === '' && parsed.password === '' && parsed.port === '';
}
