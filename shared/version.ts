// Runtime versions (R, Python, Quarto, Node.js) and the version specifiers bundles carry.
// Versions: 2 to 4 numeric parts plus an optional pre-release tag ("3.13.0rc1", "4.5.0-devel").
// Specifiers: PEP 440 style (">=3.9,<3.13", "~=3.11", "==3.11.*", "!=3.12.1") and the R style
// with spaces (">= 4.2"); a bare version ("3.11") means "==3.11.*".
import { quote } from './validation';

export interface Version {
  text: string;
  release: number[];
  /** Pre-release tag, e.g. "rc1"; empty for a final release. Pre-releases sort before their release. */
  pre: string;
}

const VERSION = /^(\d+(?:\.\d+){1,3})(?:[-.]?([A-Za-z][A-Za-z0-9.]*))?$/;
const LOOSE_VERSION = /^(\d+(?:\.\d+){0,3})(?:[-.]?([A-Za-z][A-Za-z0-9.]*))?$/;

export function parseVersion(text: string, { loose = false } = {}): Version | undefined {
  const m = (loose ? LOOSE_VERSION : VERSION).exec(text.trim());
  if (!m) return undefined;
  const release = m[1]!.split('.').map(Number);
  if (release.some((n) => !Number.isSafeInteger(n))) return undefined;
  return { text: text.trim(), release, pre: m[2] ?? '' };
}

export function isVersion(text: string): boolean {
  return parseVersion(text) !== undefined;
}

export function compareVersions(a: Version, b: Version): number {
  const n = Math.max(a.release.length, b.release.length);
  for (let i = 0; i < n; i++) {
    const d = (a.release[i] ?? 0) - (b.release[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  if (a.pre === b.pre) return 0;
  if (a.pre === '') return 1;
  if (b.pre === '') return -1;
  return a.pre < b.pre ? -1 : 1;
}

/** Major and minor are equal (missing parts count as 0). */
export function sameMajorMinor(a: Version, b: Version): boolean {
  return (a.release[0] ?? 0) === (b.release[0] ?? 0) && (a.release[1] ?? 0) === (b.release[1] ?? 0);
}

type Operator = '==' | '!=' | '<=' | '>=' | '<' | '>' | '~=' | '===';

interface Clause {
  op: Operator;
  version: Version;
  /** "==3.11.*": compare only the given release parts. */
  prefix: boolean;
}

export interface Specifier {
  text: string;
  clauses: Clause[];
}

export class SpecifierError extends Error {
  constructor(readonly input: string, reason: string) {
    super(`${quote(input)} is not a valid version requirement: ${reason}`);
    this.name = 'SpecifierError';
  }
}

const CLAUSE = /^(===|==|!=|<=|>=|~=|<|>)?\s*([0-9][A-Za-z0-9.\-]*?)(\.\*)?$/;

export function parseSpecifier(text: string): Specifier {
  const parts = text.split(',').map((p) => p.trim());
  if (text.trim() === '') throw new SpecifierError(text, 'it is empty; write e.g. ">=3.9,<3.13" or "~=3.11"');
  const clauses = parts.map((part): Clause => {
    if (part === '') throw new SpecifierError(text, 'it has an empty clause between commas');
    const m = CLAUSE.exec(part);
    if (!m) throw new SpecifierError(text, `cannot read ${quote(part)}; write e.g. ">=3.9" or "==3.11.*"`);
    const [, rawOp, versionText = '', star] = m;
    const version = parseVersion(versionText, { loose: true });
    if (!version) throw new SpecifierError(text, `${quote(versionText)} is not a version`);
    const op: Operator = (rawOp as Operator | undefined) ?? '==';
    const prefix = star !== undefined || rawOp === undefined;
    if (prefix && op !== '==' && op !== '!=') throw new SpecifierError(text, `".*" is only allowed with == and != (in ${quote(part)})`);
    if (prefix && version.pre) throw new SpecifierError(text, `".*" cannot follow a pre-release (in ${quote(part)})`);
    if (op === '~=' && version.release.length < 2) throw new SpecifierError(text, `"~=" needs at least two parts, e.g. "~=3.11" (in ${quote(part)})`);
    return { op, version, prefix };
  });
  return { text: text.trim(), clauses };
}

function clauseMatches(v: Version, c: Clause): boolean {
  const cmp = compareVersions(v, c.version);
  switch (c.op) {
    case '==':
      return c.prefix ? startsWith(v, c.version) : cmp === 0;
    case '!=':
      return c.prefix ? !startsWith(v, c.version) : cmp !== 0;
    case '===':
      return v.text === c.version.text;
    case '<=':
      return cmp <= 0;
    case '>=':
      return cmp >= 0;
    case '<':
      // PEP 440: "<3.12" excludes pre-releases of 3.12.
      return cmp < 0 && !(v.pre !== '' && sameRelease(v, c.version));
    case '>':
      return cmp > 0;
    case '~=': {
      const head = { ...c.version, release: c.version.release.slice(0, -1), pre: '' };
      return cmp >= 0 && startsWith(v, head);
    }
  }
}

function startsWith(v: Version, prefix: Version): boolean {
  return prefix.release.every((n, i) => (v.release[i] ?? 0) === n);
}

function sameRelease(a: Version, b: Version): boolean {
  return compareVersions({ ...a, pre: '' }, { ...b, pre: '' }) === 0;
}

export function satisfies(version: Version, spec: Specifier): boolean {
  return spec.clauses.every((c) => clauseMatches(version, c));
}
