// The declarative environments file: a YAML list of environments with the API's field names.
import { parseDocument, stringify } from 'yaml';
import { LANGUAGES, LIMITS, parseEnvironmentSpecList, specOf, type Environment, type EnvironmentSpec } from '../../shared/environment';
import { AppError } from '../../shared/errors';

export function environmentsToYaml(envs: Environment[]): string {
  const docs = envs.map((env) => {
    const spec = specOf(env);
    const out: Record<string, unknown> = { name: spec.name, title: spec.title };
    if (spec.description) out.description = spec.description;
    out.matching = spec.matching;
    if (spec.supervisor) out.supervisor = spec.supervisor;
    for (const lang of LANGUAGES) if (spec[lang].installations.length) out[lang] = { installations: spec[lang].installations };
    if (spec.volume_mounts.length) out.volume_mounts = spec.volume_mounts;
    return out;
  });
  const header = '# Offhost execution environments. Import this file in the UI, or point OFFHOST_ENVIRONMENTS_FILE at it.\n';
  return header + stringify(docs, { lineWidth: 0 });
}

/**
 * What a YAML text holds: nothing at all (empty, blanks, comments only, or a bare null), or a list
 * of environments — possibly an explicit empty one ("[]"). The difference matters to the watched
 * file: an empty file is a moment in a rewrite, "[]" is an intent to remove everything.
 */
export type ParsedEnvironments = { kind: 'empty' } | { kind: 'list'; specs: EnvironmentSpec[] };

// Only YAML 1.2's core schema: no explicit YAML 1.1 types (!!binary, !!set, !!timestamp), no merge
// keys, and a tag we do not know is an error rather than a string (see warnings below).
const PARSE_OPTIONS = { schema: 'core', resolveKnownTags: false, merge: false, uniqueKeys: true, prettyErrors: true } as const;
// Aliases are fine for sharing a block; more than this many expansions is an "alias bomb".
const MAX_ALIAS_COUNT = 100;

function yamlError(e: { message: string; linePos?: [{ line: number; col: number }, ...unknown[]] }): AppError {
  const where = e.linePos ? ` (line ${e.linePos[0].line}, column ${e.linePos[0].col})` : '';
  // prettyErrors appends the offending line of the input; keep only the first line of the message.
  const message = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
  return new AppError('InvalidYaml', `The YAML could not be read${where}: ${message.length > 200 ? `${message.slice(0, 200)}…` : message}`);
}

/** Parse and validate the whole text; nothing is applied unless every entry is valid. */
export function parseEnvironmentsYaml(text: string): ParsedEnvironments {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > LIMITS.yamlBytes)
    throw new AppError('LimitExceeded', `The YAML is ${bytes} bytes; the limit is ${LIMITS.yamlBytes} bytes (1 MiB).`, 'yaml');
  const doc = parseDocument(text, PARSE_OPTIONS);
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem) throw yamlError(problem);
  if (doc.contents === null) return { kind: 'empty' };
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    // The yaml package throws a ReferenceError when aliases would expand past the count.
    if (e instanceof ReferenceError) throw new AppError('InvalidYaml', `The YAML expands its aliases (*name) too many times (more than ${MAX_ALIAS_COUNT}); write the entries out.`);
    throw e;
  }
  if (data === null || data === undefined) return { kind: 'empty' };
  const list = !Array.isArray(data) && typeof data === 'object' && 'environments' in data ? (data as { environments: unknown }).environments : data;
  const specs = parseEnvironmentSpecList(list);
  const seen = new Map<string, number>();
  specs.forEach((s, i) => {
    const first = seen.get(s.name);
    if (first !== undefined) throw new AppError('DuplicateEnvironmentName', `Image ${s.name} appears twice in the file (entries ${first + 1} and ${i + 1}).`, `[${i}].name`);
    seen.set(s.name, i);
  });
  return { kind: 'list', specs };
}

/** The list in `text`; an empty text is an empty list (for imports, where nothing to do is fine). */
export function environmentsFromYaml(text: string): EnvironmentSpec[] {
  const parsed = parseEnvironmentsYaml(text);
  return parsed.kind === 'list' ? parsed.specs : [];
}
