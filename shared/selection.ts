// Which environment runs a bundle. Pure: the same inputs always give the same answer and reasons.
//
// Precedence (the first that applies decides; a later one is never a fallback):
//   1. manifest environment.identifier   2. manifest environment.image
//   3. content default environment       4. content default image
//   5. automatic, among environments with matching = any
// matching = none is never chosen; matching = exact only when named by 1-4.
//
// Each runtime the bundle needs (R from `platform`, Python, Quarto, Node.js) must be satisfied:
// a `requires` specifier wins over the version; otherwise the language's strategy applies:
//   exact        same version;
//   major-minor  same MAJOR.MINOR;
//   nearest      any version, preferring (in order) exact, same major.minor newer, same major.minor
//                older, same major newer, same major older, newer major, older major - and within
//                each group the closest version.
// With a specifier, the highest satisfying version is preferred.
//
// Tie-break among compatible environments: compare the runtimes in the order R, Python, Quarto,
// Node.js by match quality, then closeness; then the newest environment (created_time) wins;
// then the smallest guid, so the answer never depends on list order.
import { quote } from './validation';
import { LANGUAGE_LABELS, type Environment, type Installation, type Language } from './environment';
import type { ContentDefaults, Manifest } from './manifest';
import { compareVersions, parseSpecifier, parseVersion, sameMajorMinor, satisfies, type Specifier, type Version } from './version';

export const STRATEGIES = ['exact', 'major-minor', 'nearest'] as const;
export type Strategy = (typeof STRATEGIES)[number];
export type MatchedLanguage = Exclude<Language, 'tensorflow'>;

export interface SelectionOptions {
  versionMatching?: Partial<Record<MatchedLanguage, Strategy>>;
}
export const DEFAULT_VERSION_MATCHING: Record<MatchedLanguage, Strategy> = {
  r: 'nearest',
  python: 'major-minor',
  quarto: 'nearest',
  nodejs: 'nearest',
};

export type SelectionStep = 'manifest-identifier' | 'manifest-image' | 'content-environment' | 'content-image' | 'automatic';

export interface Requirement {
  language: MatchedLanguage;
  /** Where it came from, e.g. "manifest platform" or "environment.python.requires". */
  source: string;
  version?: Version;
  specifier?: Specifier;
  strategy: Strategy;
}

export interface RuntimeMatch {
  language: MatchedLanguage;
  installation: Installation;
  version: Version;
  /** 0 = exact or satisfies a specifier; higher = further away (see the tiers above). */
  tier: number;
  reason: string;
}

export interface CandidateReport {
  guid: string;
  title: string;
  name: string;
  matching: Environment['matching'];
  offers: Partial<Record<Language, string[]>>;
  /** Why it can't be used; empty when it can. */
  problems: string[];
}

export type Selection =
  | {
      ok: true;
      environment: Environment;
      step: SelectionStep;
      requirements: Requirement[];
      matches: RuntimeMatch[];
      reasons: string[];
      candidates: CandidateReport[];
    }
  | {
      ok: false;
      step: SelectionStep | 'manifest';
      requirements: Requirement[];
      /** The whole story in one paragraph, candidates included (for logs and API clients). */
      message: string;
      /** The same without the per-candidate part, for a UI that lists the candidates itself. */
      summary: string;
      candidates: CandidateReport[];
    };

const TIER_WORDS = [
  'exact match',
  'same major.minor, newer patch',
  'same major.minor, older patch',
  'same major, newer minor',
  'same major, older minor',
  'newer major version',
  'older major version',
];

const LANG_ORDER: MatchedLanguage[] = ['r', 'python', 'quarto', 'nodejs'];

// --- requirements ----------------------------------------------------------------------------

export function requirementsOf(manifest: Manifest, options: SelectionOptions = {}): Requirement[] {
  const strategies = { ...DEFAULT_VERSION_MATCHING, ...options.versionMatching };
  const sources: Record<MatchedLanguage, { version?: string; versionSource: string; requires?: string }> = {
    r: { version: manifest.platform, versionSource: 'manifest platform', requires: manifest.environment?.r?.requires },
    python: { version: manifest.python?.version, versionSource: 'manifest python.version', requires: manifest.environment?.python?.requires },
    quarto: { version: manifest.quarto?.version, versionSource: 'manifest quarto.version', requires: manifest.environment?.quarto?.requires },
    nodejs: { version: manifest.node?.version, versionSource: 'manifest node.version' },
  };
  const out: Requirement[] = [];
  for (const language of LANG_ORDER) {
    const s = sources[language];
    if (s.requires !== undefined && s.requires.trim() !== '') {
      try {
        out.push({ language, source: `environment.${language}.requires`, specifier: parseSpecifier(s.requires), strategy: strategies[language] });
      } catch (e) {
        throw new Error(`environment.${language}.requires: ${(e as Error).message}`);
      }
    } else if (s.version !== undefined) {
      const version = parseVersion(s.version, { loose: true });
      if (!version) throw new Error(`${s.versionSource}: ${quote(s.version)} is not a version.`);
      out.push({ language, source: s.versionSource, version, strategy: strategies[language] });
    }
  }
  return out;
}

function describeRequirement(r: Requirement): string {
  const label = LANGUAGE_LABELS[r.language];
  if (r.specifier) return `${label} ${r.specifier.text}`;
  const v = r.version!.text;
  if (r.strategy === 'exact') return `${label} ${v} (exact)`;
  if (r.strategy === 'major-minor') return `${label} ${r.version!.release.slice(0, 2).join('.')}.x (from ${v})`;
  return `${label} ${v} (nearest)`;
}

// --- matching one runtime ----------------------------------------------------------------------

function tierOf(candidate: Version, wanted: Version): number {
  const c = compareVersions(candidate, wanted);
  if (c === 0) return 0;
  if (sameMajorMinor(candidate, wanted)) return c > 0 ? 1 : 2;
  if ((candidate.release[0] ?? 0) === (wanted.release[0] ?? 0)) return c > 0 ? 3 : 4;
  return c > 0 ? 5 : 6;
}

const MAX_TIER: Record<Strategy, number> = { exact: 0, 'major-minor': 2, nearest: 6 };

/** Negative when `a` is the better installation for `req`. */
function compareMatches(req: Requirement, a: RuntimeMatch, b: RuntimeMatch): number {
  if (a.tier !== b.tier) return a.tier - b.tier;
  // Specifiers prefer the highest; newer tiers the closest (lowest); older tiers the closest (highest).
  const preferLower = !req.specifier && (a.tier === 1 || a.tier === 3 || a.tier === 5);
  return preferLower ? compareVersions(a.version, b.version) : compareVersions(b.version, a.version);
}

function matchRuntime(req: Requirement, installations: Installation[]): RuntimeMatch | string {
  const label = LANGUAGE_LABELS[req.language];
  if (installations.length === 0) return `no ${label}`;
  const matches: RuntimeMatch[] = [];
  for (const installation of installations) {
    const v = parseVersion(installation.version);
    if (!v) continue;
    if (req.specifier) {
      if (satisfies(v, req.specifier))
        matches.push({ language: req.language, installation, version: v, tier: 0, reason: `${label} ${v.text} satisfies ${req.specifier.text} (${req.source})` });
    } else {
      const tier = tierOf(v, req.version!);
      if (tier <= MAX_TIER[req.strategy])
        matches.push({
          language: req.language,
          installation,
          version: v,
          tier,
          reason: `${label} ${v.text} for ${req.version!.text} requested by ${req.source}: ${TIER_WORDS[tier]} (${req.strategy} matching)`,
        });
    }
  }
  if (matches.length === 0) {
    const offered = installations.map((i) => i.version).join(', ');
    return `${label} ${offered} does not satisfy ${describeRequirement(req)}`;
  }
  return matches.sort((a, b) => compareMatches(req, a, b))[0]!;
}

// --- choosing the environment ------------------------------------------------------------------

interface Evaluated {
  env: Environment;
  matches: RuntimeMatch[];
  problems: string[];
}

function evaluate(env: Environment, reqs: Requirement[]): Evaluated {
  const matches: RuntimeMatch[] = [];
  const problems: string[] = [];
  for (const req of reqs) {
    const m = matchRuntime(req, env[req.language].installations);
    if (typeof m === 'string') problems.push(m);
    else matches.push(m);
  }
  return { env, matches, problems };
}

function compareEvaluated(reqs: Requirement[], a: Evaluated, b: Evaluated): number {
  for (let i = 0; i < reqs.length; i++) {
    const d = compareMatches(reqs[i]!, a.matches[i]!, b.matches[i]!);
    if (d !== 0) return d;
  }
  if (a.env.created_time !== b.env.created_time) return a.env.created_time < b.env.created_time ? 1 : -1;
  return a.env.guid < b.env.guid ? -1 : a.env.guid > b.env.guid ? 1 : 0;
}

function report(e: Evaluated): CandidateReport {
  const offers: CandidateReport['offers'] = {};
  for (const lang of ['r', 'python', 'quarto', 'nodejs', 'tensorflow'] as const) {
    const versions = e.env[lang].installations.map((i) => i.version);
    if (versions.length) offers[lang] = versions;
  }
  return { guid: e.env.guid, title: e.env.title, name: e.env.name, matching: e.env.matching, offers, problems: e.problems };
}

function envLabel(env: Environment): string {
  return `"${env.title}" (${env.name})`;
}

function offersText(c: CandidateReport): string {
  const parts = Object.entries(c.offers).map(([lang, vs]) => `${LANGUAGE_LABELS[lang as Language]} ${vs.join(', ')}`);
  return parts.length ? parts.join('; ') : 'no runtimes';
}

export function selectEnvironment(
  manifest: Manifest,
  environments: readonly Environment[],
  content: ContentDefaults = {},
  options: SelectionOptions = {},
): Selection {
  let reqs: Requirement[];
  try {
    reqs = requirementsOf(manifest, options);
  } catch (e) {
    const message = (e as Error).message;
    return { ok: false, step: 'manifest', requirements: [], message, summary: message, candidates: [] };
  }
  const needs = reqs.length ? reqs.map(describeRequirement).join(', ') : 'no particular runtime';
  const target = pickTarget(manifest, content);
  const byGuid = (guid: string) => environments.find((e) => e.guid === guid);

  let pool: Environment[];
  let why: string;
  if (target.kind === 'guid') {
    const env = byGuid(target.value);
    if (!env) return fail(`${target.label} names environment ${target.value}, which does not exist.`, []);
    if (env.matching === 'none') return fail(`${target.label} names ${envLabel(env)}, but its matching is "none", so it is never used.`, [env]);
    pool = [env];
    why = `${target.label} names this environment.`;
  } else if (target.kind === 'image') {
    const same = environments.filter((e) => e.name === target.value);
    pool = same.filter((e) => e.matching !== 'none');
    if (pool.length === 0)
      return fail(
        same.length
          ? `${target.label} asks for image ${target.value}, but every environment using it has matching "none".`
          : `${target.label} asks for image ${target.value}, and no environment uses that image.`,
        same,
      );
    why = `${target.label} asks for image ${target.value}; ${pool.length === 1 ? 'one environment uses it' : `${pool.length} environments use it`}.`;
  } else {
    pool = environments.filter((e) => e.matching === 'any');
    if (pool.length === 0)
      return fail(
        environments.length
          ? 'Nothing names an environment or image, and no environment has matching "any" (the others are only used when named).'
          : 'There are no environments yet. Add one with the runtimes this content needs.',
        [...environments],
      );
    why = `Chosen automatically among ${pool.length} environment${pool.length === 1 ? '' : 's'} with matching "any".`;
  }

  const evaluated = pool.map((e) => evaluate(e, reqs));
  const fits = evaluated.filter((e) => e.problems.length === 0).sort((a, b) => compareEvaluated(reqs, a, b));
  const candidates = evaluated.map(report);
  if (fits.length === 0) {
    const lines = evaluated.map((e, i) => `${envLabel(e.env)} offers ${offersText(candidates[i]!)}: ${e.problems.join('; ')}.`);
    const summary = `No environment can run this content: it needs ${needs}. ${why}`;
    return fail(`${summary} ${lines.join(' ')}`, pool, candidates, summary);
  }

  const best = fits[0]!;
  const reasons = [why, ...best.matches.map((m) => `${m.reason}, at ${m.installation.path}.`)];
  if (reqs.length === 0) reasons.push('The bundle asks for no particular runtime.');
  const runnerUp = fits[1];
  if (runnerUp) {
    const sameRuntimes = reqs.every((r, i) => compareMatches(r, best.matches[i]!, runnerUp.matches[i]!) === 0);
    reasons.push(
      sameRuntimes
        ? `${fits.length - 1} other environment${fits.length > 2 ? 's' : ''} match${fits.length > 2 ? '' : 'es'} equally well (e.g. ${envLabel(runnerUp.env)}); ties go to the newest environment, then the smallest guid.`
        : `${fits.length - 1} other compatible environment${fits.length > 2 ? 's match' : ' matches'} less closely (next best: ${envLabel(runnerUp.env)}).`,
    );
  }
  return { ok: true, environment: best.env, step: target.step, requirements: reqs, matches: best.matches, reasons, candidates };

  function fail(message: string, envs: Environment[], reports = envs.map((e) => report(evaluate(e, reqs))), summary = message): Selection {
    return { ok: false, step: target.step, requirements: reqs, message, summary, candidates: reports };
  }
}

type Target =
  | { kind: 'guid' | 'image'; value: string; step: SelectionStep; label: string }
  | { kind: 'auto'; step: 'automatic'; label: string };

function pickTarget(manifest: Manifest, content: ContentDefaults): Target {
  const env = manifest.environment;
  if (env?.identifier) return { kind: 'guid', value: env.identifier, step: 'manifest-identifier', label: 'The manifest (environment.identifier)' };
  if (env?.image) return { kind: 'image', value: env.image, step: 'manifest-image', label: 'The manifest (environment.image)' };
  if (content.default_environment_guid)
    return { kind: 'guid', value: content.default_environment_guid, step: 'content-environment', label: "The content's default environment" };
  if (content.default_image_name) return { kind: 'image', value: content.default_image_name, step: 'content-image', label: "The content's default image" };
  return { kind: 'auto', step: 'automatic', label: 'Automatic selection' };
}
