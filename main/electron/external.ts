// The only web pages the desktop app hands to the user's browser (shell.openExternal): our help
// links. One place to add one. Pure (no 'electron' import) so the unit tests run under Node.
//
// Offhost has no website of its own yet; its help links point at the documentation it follows:
// Posit Connect's (environments, off-host execution) and Kubernetes' (resources, quantities).
// Add the project's own docs host here when it exists — never a guessed domain.
export const HELP_LINKS: readonly { readonly host: string; readonly pathPrefix: string }[] = [
  { host: 'docs.posit.co', pathPrefix: '/connect/' },
  { host: 'kubernetes.io', pathPrefix: '/docs/' },
];

const MAX_URL_LENGTH = 2048;

export type ExternalCheck = { ok: true; url: string } | { ok: false; reason: string };

/**
 * May this URL be opened in the user's browser? https only, no credentials, default port,
 * the exact host of an entry (no subdomains, no trailing dot) and a path under its prefix,
 * judged after the URL parser has normalised dots and case. Returns the normalised URL:
 * open that, not the raw input, so what is opened is what was checked.
 */
export function checkExternalUrl(raw: unknown): ExternalCheck {
  if (typeof raw !== 'string') return { ok: false, reason: 'not a string' };
  if (raw.length > MAX_URL_LENGTH) return { ok: false, reason: `longer than ${MAX_URL_LENGTH} characters` };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'not an absolute URL' };
  }
  if (url.protocol !== 'https:') return { ok: false, reason: `scheme ${url.protocol} is not https:` };
  if (url.username !== '' || url.password !== '') return { ok: false, reason: 'carries credentials' };
  if (url.port !== '') return { ok: false, reason: `non-default port ${url.port}` };
  const entry = HELP_LINKS.find((l) => l.host === url.hostname);
  if (!entry) return { ok: false, reason: `host ${url.hostname} is not on the help-link allowlist` };
  if (!url.pathname.startsWith(entry.pathPrefix)) return { ok: false, reason: `path ${url.pathname} is outside ${entry.host}${entry.pathPrefix}` };
  return { ok: true, url: url.href };
}
