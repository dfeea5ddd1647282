// Where build jobs get packages from — an admin setting, like Posit Connect's Package Manager
// settings: a Python index (pip's --index-url) and extra places to find wheels (--find-links,
// e.g. a wheelhouse on a mounted volume), and CRAN-like repositories for R. Nothing is built in:
// with nothing set, pip uses its own default and R packages the image lacks cannot be installed.
// Stored in the settings table (main/store/settings-repo.ts); read and written through
// settings.packageSources.* (shared/api.ts) and the Settings page.
import { z } from 'zod';
import { AppError } from './errors';
import { parseWith, quote } from './validation';

export interface RRepository {
  /** The name R gives it in options(repos) (e.g. "CRAN", "internal"). */
  name: string;
  url: string;
}

export interface PackageSources {
  /** pip --index-url; null: pip's default. */
  python_index_url: string | null;
  /** pip --find-links: directories or pages of wheels (file:///srv/wheels, https://…). */
  python_find_links: string[];
  /** pip --no-index: only the find-links, never an index (for a cluster without network). */
  python_no_index: boolean;
  /** options(repos = …) for R's install.packages and renv::restore, in order. */
  r_repositories: RRepository[];
}

export const DEFAULT_PACKAGE_SOURCES: PackageSources = { python_index_url: null, python_find_links: [], python_no_index: false, r_repositories: [] };

export const PACKAGE_SOURCES_LIMITS = { findLinks: 16, repositories: 16, urlLength: 2048 } as const;

/** http(s) with a host, or file:// with an absolute path; no spaces, quotes or control characters. */
export function sourceUrlProblem(url: string, what: string): string | undefined {
  if (url.length > PACKAGE_SOURCES_LIMITS.urlLength) return `${what} is longer than ${PACKAGE_SOURCES_LIMITS.urlLength} characters.`;
  if (/[\s'"`\\$<>\u0000-\u001f\u007f]/.test(url)) return `${what} ${quote(url)} must not contain spaces, quotes, "\\", "$", "<", ">" or control characters.`;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `${what} must be an absolute URL (https://…, http://… or file:///path), not ${quote(url)}.`;
  }
  if (u.protocol === 'file:') {
    if (u.host !== '' || !u.pathname.startsWith('/')) return `${what} ${quote(url)} must be file:///absolute/path (three slashes, no host).`;
    if (u.pathname.split('/').some((p) => p === '..' || p === '.')) return `${what} ${quote(url)} must not contain "." or ".." segments.`;
    return undefined;
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return `${what} must start with https://, http:// or file://, not ${quote(u.protocol)}.`;
  if (!u.hostname) return `${what} ${quote(url)} has no host.`;
  // Settings are shown to publishers and written into job scripts: no secrets in them.
  if (u.username || u.password) return `${what} must not carry a user name or password; give the image a pip.conf or .netrc (or use a repository that needs none).`;
  return undefined;
}

const url = (what: string) =>
  z.string({ error: `${what} must be text (a URL).` }).superRefine((s, ctx) => {
    const problem = sourceUrlProblem(s, what);
    if (problem) ctx.addIssue({ code: 'custom', message: problem, input: s });
  });

const schema = z.strictObject({
  python_index_url: z
    .union([url('The Python index URL'), z.null()])
    .optional()
    .transform((v) => v ?? null),
  python_find_links: z
    .array(url('A find-links location'), { error: '"python_find_links" must be a list of URLs.' })
    .max(PACKAGE_SOURCES_LIMITS.findLinks, { error: `At most ${PACKAGE_SOURCES_LIMITS.findLinks} find-links locations.` })
    .optional()
    .transform((v) => v ?? []),
  python_no_index: z
    .boolean({ error: '"python_no_index" must be true or false.' })
    .optional()
    .transform((v) => v ?? false),
  r_repositories: z
    .array(
      z.strictObject({
        name: z
          .string({ error: 'A repository needs a "name", e.g. CRAN.' })
          .regex(/^[A-Za-z][A-Za-z0-9._-]{0,63}$/, { error: 'A repository name must start with a letter and hold only letters, digits, ".", "_" and "-" (at most 64).' }),
        url: url('A repository URL'),
      }),
      { error: '"r_repositories" must be a list of {name, url}.' },
    )
    .max(PACKAGE_SOURCES_LIMITS.repositories, { error: `At most ${PACKAGE_SOURCES_LIMITS.repositories} R repositories.` })
    .optional()
    .transform((v) => v ?? []),
});

/** Check package sources as an admin writes them; every problem names its field. */
export function parsePackageSources(raw: unknown): PackageSources {
  const s = parseWith(schema, raw, () => 'InvalidPackageSources');
  const names = new Set<string>();
  s.r_repositories.forEach((r, i) => {
    if (names.has(r.name)) throw new AppError('InvalidPackageSources', `Two R repositories are named ${quote(r.name)}.`, `r_repositories[${i}].name`);
    names.add(r.name);
  });
  if (s.python_no_index && s.python_find_links.length === 0)
    throw new AppError('InvalidPackageSources', '"python_no_index" needs at least one find-links location: pip would have nowhere to look.', 'python_no_index');
  return s;
}
