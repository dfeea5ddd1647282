// The declarative environments file: a YAML list of environments with the API's field names.
import { parseDocument, stringify } from 'yaml';
import { LANGUAGES, parseEnvironmentSpecList, specOf, type Environment, type EnvironmentSpec } from '../../shared/environment';
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

/** Parse and validate the whole file; nothing is applied unless every entry is valid. */
export function environmentsFromYaml(text: string): EnvironmentSpec[] {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const where = e.linePos ? ` (line ${e.linePos[0].line}, column ${e.linePos[0].col})` : '';
    throw new AppError('InvalidYaml', `The YAML could not be read${where}: ${e.message.split('\n')[0]}`);
  }
  const data = doc.toJS({ maxAliasCount: 100 }) as unknown;
  if (data === null || data === undefined) return [];
  const list = !Array.isArray(data) && typeof data === 'object' && 'environments' in data ? (data as { environments: unknown }).environments : data;
  const specs = parseEnvironmentSpecList(list);
  const seen = new Map<string, number>();
  specs.forEach((s, i) => {
    const first = seen.get(s.name);
    if (first !== undefined) throw new AppError('DuplicateEnvironmentName', `Image ${s.name} appears twice in the file (entries ${first + 1} and ${i + 1}).`, `[${i}].name`);
    seen.set(s.name, i);
  });
  return specs;
}
