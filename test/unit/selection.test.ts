import { describe, expect, it } from 'vitest';
import type { Environment, Installation, Language } from '../../shared/environment';
import { parseManifest, type Manifest } from '../../shared/manifest';
import { requirementsOf, selectEnvironment, type Selection } from '../../shared/selection';

let seq = 0;
function env(title: string, runtimes: Partial<Record<Language, string[]>>, extra: Partial<Environment> = {}): Environment {
  seq++;
  const inst = (lang: Language): { installations: Installation[] } => ({
    installations: (runtimes[lang] ?? []).map((version) => ({ version, path: `/opt/${lang}/${version}/bin/${lang}` })),
  });
  return {
    id: String(seq),
    guid: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
    name: `ghcr.io/test/${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}:1`,
    title,
    description: '',
    cluster_name: 'Kubernetes',
    environment_type: 'Kubernetes',
    matching: 'any',
    supervisor: null,
    r: inst('r'),
    python: inst('python'),
    quarto: inst('quarto'),
    tensorflow: inst('tensorflow'),
    nodejs: inst('nodejs'),
    volume_mounts: [],
    managed_by: null,
    created_time: `2026-01-${String(10 + (seq % 18)).padStart(2, '0')}T00:00:00.000Z`,
    updated_time: '2026-02-01T00:00:00.000Z',
    ...extra,
  };
}

const m = (manifest: object): Manifest => parseManifest({ version: 1, ...manifest });
function chosen(s: Selection): string {
  if (!s.ok) throw new Error(`expected a choice, got: ${s.message}`);
  return s.environment.title;
}
function failure(s: Selection): string {
  if (s.ok) throw new Error(`expected no choice, got ${s.environment.title}`);
  return s.message;
}

describe('precedence', () => {
  const a = env('A', { r: ['4.3.1'], python: ['3.11.9'] });
  const b = env('B', { r: ['4.3.1'], python: ['3.11.9'] }, { matching: 'exact' });
  const c = env('C', { r: ['4.3.1'], python: ['3.11.9'] });
  // Decoys for the image steps: C's repository with another tag, and a name that merely starts with
  // C's. Both fit the content and are newer than C (ties go to the newest), so a selection that
  // matched images loosely (by repository, or by prefix) would pick one of them instead of C.
  const later = { created_time: '2026-03-01T00:00:00.000Z' };
  const otherTagOfC = env('C other tag', { r: ['4.3.1'], python: ['3.11.9'] }, { name: c.name.replace(/:1$/, ':2'), ...later });
  const prefixOfC = env('C prefix', { r: ['4.3.1'], python: ['3.11.9'] }, { name: `${c.name}-x`, ...later });
  const all = [a, b, c, otherTagOfC, prefixOfC];
  const need = { platform: '4.3.1', python: { version: '3.11.5' } };

  it('1. manifest environment.identifier wins over everything', () => {
    const s = selectEnvironment(m({ ...need, environment: { identifier: b.guid, image: c.name } }), all, { default_environment_guid: a.guid });
    expect(chosen(s)).toBe('B');
    expect(s.ok && s.step).toBe('manifest-identifier');
    expect(s.ok && s.reasons[0]).toMatch(/environment\.identifier\) names this environment/);
  });

  it('2. manifest environment.image beats the content defaults', () => {
    const s = selectEnvironment(m({ ...need, environment: { image: c.name } }), all, { default_environment_guid: a.guid, default_image_name: b.name });
    expect(chosen(s)).toBe('C');
    expect(s.ok && s.step).toBe('manifest-image');
    expect(s.candidates.map((x) => x.title)).toEqual(['C']);
  });

  it('3. content default environment when the manifest names none', () => {
    const s = selectEnvironment(m(need), all, { default_environment_guid: b.guid, default_image_name: c.name });
    expect(chosen(s)).toBe('B');
    expect(s.ok && s.step).toBe('content-environment');
  });

  it('4. content default image next', () => {
    const s = selectEnvironment(m(need), all, { default_image_name: c.name });
    expect(chosen(s)).toBe('C');
    expect(s.ok && s.step).toBe('content-image');
    expect(s.candidates.map((x) => x.title)).toEqual(['C']);
  });

  it('5. automatic selection only among matching = any', () => {
    const s = selectEnvironment(m(need), [b, c]);
    expect(chosen(s)).toBe('C');
    expect(s.ok && s.step).toBe('automatic');
  });

  it('exact environments are used when named, never automatically', () => {
    expect(chosen(selectEnvironment(m({ ...need, environment: { image: b.name } }), [b]))).toBe('B');
    expect(failure(selectEnvironment(m(need), [b]))).toMatch(/no environment has matching "any"/);
  });

  it('none is never used, even when named', () => {
    const n = env('N', { r: ['4.3.1'], python: ['3.11.9'] }, { matching: 'none' });
    expect(failure(selectEnvironment(m({ ...need, environment: { identifier: n.guid } }), [n]))).toMatch(/matching is "none"/);
    expect(failure(selectEnvironment(m({ ...need, environment: { image: n.name } }), [n]))).toMatch(/every environment using it has matching "none"/);
    expect(failure(selectEnvironment(m(need), [n]))).toMatch(/no environment has matching "any"/);
  });

  it('a named target that does not fit is an error, not a fallback to later steps', () => {
    const old = env('Old', { python: ['3.11.9'] });
    const s = selectEnvironment(m({ platform: '4.3.1', environment: { identifier: old.guid } }), [old, a]);
    expect(failure(s)).toMatch(/No environment can run this content/);
    expect(s.step).toBe('manifest-identifier');
  });

  it('an unknown identifier or image is reported as such', () => {
    expect(failure(selectEnvironment(m({ environment: { identifier: '11111111-1111-4111-8111-111111111111' } }), all))).toMatch(/does not exist/);
    expect(failure(selectEnvironment(m({ environment: { image: 'ghcr.io/nope:1' } }), all))).toMatch(/no environment uses that image/);
    expect(failure(selectEnvironment(m({}), all, { default_environment_guid: '11111111-1111-4111-8111-111111111111' }))).toMatch(
      /content's default environment names environment .* which does not exist/,
    );
  });

  it('with no environments at all, says to add one', () => {
    expect(failure(selectEnvironment(m(need), []))).toMatch(/no environments yet/);
  });
});

describe('R version matching (nearest by default)', () => {
  const envs = [env('R 4.1.3', { r: ['4.1.3'] }), env('R 4.2.0', { r: ['4.2.0'] }), env('R 4.2.3', { r: ['4.2.3'] }), env('R 4.4.1', { r: ['4.4.1'] })];
  it.each([
    ['4.2.3', 'R 4.2.3'], // exact
    ['4.2.1', 'R 4.2.3'], // same minor, newer patch first
    ['4.2.5', 'R 4.2.3'], // same minor, older patch when there is no newer
    ['4.3.0', 'R 4.4.1'], // same major, newer minor
    ['4.5.0', 'R 4.4.1'], // same major, older minor
    ['3.6.3', 'R 4.1.3'], // newer major, closest
    ['5.0.0', 'R 4.4.1'], // older major, closest
  ])('R %s -> %s', (platform, expected) => {
    expect(chosen(selectEnvironment(m({ platform }), envs))).toBe(expected);
  });

  it('exact matching refuses anything else and says what was offered', () => {
    const s = selectEnvironment(m({ platform: '4.2.1' }), envs, {}, { versionMatching: { r: 'exact' } });
    const msg = failure(s);
    expect(msg).toMatch(/it needs R 4\.2\.1 \(exact\)/);
    expect(msg).toMatch(/"R 4\.2\.3" \(ghcr\.io\/test\/r-4-2-3:1\) offers R 4\.2\.3: R 4\.2\.3 does not satisfy R 4\.2\.1 \(exact\)/);
    expect(s.candidates).toHaveLength(4);
    expect(s.candidates.every((c) => c.problems.length === 1)).toBe(true);
  });

  it('major-minor matching for R when asked', () => {
    expect(chosen(selectEnvironment(m({ platform: '4.2.9' }), envs, {}, { versionMatching: { r: 'major-minor' } }))).toBe('R 4.2.3');
    expect(failure(selectEnvironment(m({ platform: '4.3.0' }), envs, {}, { versionMatching: { r: 'major-minor' } }))).toMatch(/R 4\.3\.x/);
  });
});

describe('Python version matching (major-minor by default)', () => {
  const envs = [env('Py 3.10', { python: ['3.10.14'] }), env('Py 3.11', { python: ['3.11.2', '3.11.9'] }), env('Py 3.12', { python: ['3.12.4'] })];
  it('picks the same major.minor, closest newer patch', () => {
    const s = selectEnvironment(m({ python: { version: '3.11.5' } }), envs);
    expect(chosen(s)).toBe('Py 3.11');
    expect(s.ok && s.matches[0]!.installation.version).toBe('3.11.9');
    expect(s.ok && s.reasons.join(' ')).toMatch(/Python 3\.11\.9 for 3\.11\.5 requested by manifest python\.version: same major\.minor, newer patch \(major-minor matching\), at \/opt\/python\/3\.11\.9/);
  });
  it('refuses another minor by default', () => {
    expect(failure(selectEnvironment(m({ python: { version: '3.13.0' } }), envs))).toMatch(/Python 3\.13\.x \(from 3\.13\.0\)/);
  });
  it('nearest when configured', () => {
    expect(chosen(selectEnvironment(m({ python: { version: '3.13.0' } }), envs, {}, { versionMatching: { python: 'nearest' } }))).toBe('Py 3.12');
  });
  it('exact picks the very installation', () => {
    const s = selectEnvironment(m({ python: { version: '3.11.2' } }), envs, {}, { versionMatching: { python: 'exact' } });
    expect(s.ok && s.matches[0]!.installation.version).toBe('3.11.2');
  });
});

describe('requires specifiers', () => {
  const envs = [env('Py 3.9', { python: ['3.9.19'] }), env('Py 3.11', { python: ['3.11.9'] }), env('Py 3.12', { python: ['3.12.4'] }), env('Py 3.13', { python: ['3.13.0'] })];
  it.each([
    ['>=3.9,<3.13', 'Py 3.12'], // highest that satisfies
    ['~=3.11', 'Py 3.13'],
    ['==3.11.*', 'Py 3.11'],
    ['>=3.9, !=3.13.0', 'Py 3.12'],
    ['<3.10', 'Py 3.9'],
  ])('python requires %s -> %s', (requires, expected) => {
    expect(chosen(selectEnvironment(m({ environment: { python: { requires } } }), envs))).toBe(expected);
  });

  it('a specifier takes precedence over the version and its matching rule', () => {
    const s = selectEnvironment(m({ python: { version: '3.9.1' }, environment: { python: { requires: '>=3.12' } } }), envs);
    expect(chosen(s)).toBe('Py 3.13');
    expect(s.ok && s.requirements[0]!.source).toBe('environment.python.requires');
  });

  it('R-style ">= 4.2"', () => {
    const rs = [env('R 4.1', { r: ['4.1.3'] }), env('R 4.3', { r: ['4.3.1'] })];
    expect(chosen(selectEnvironment(m({ platform: '4.1.0', environment: { r: { requires: '>= 4.2' } } }), rs))).toBe('R 4.3');
  });

  it('quarto requires', () => {
    const qs = [env('Q 1.3', { quarto: ['1.3.450'] }), env('Q 1.5', { quarto: ['1.5.57'] })];
    expect(chosen(selectEnvironment(m({ environment: { quarto: { requires: '>=1.4,<2' } } }), qs))).toBe('Q 1.5');
    expect(failure(selectEnvironment(m({ environment: { quarto: { requires: '>=2' } } }), qs))).toMatch(/Quarto 1\.5\.57 does not satisfy Quarto >=2/);
  });

  it('a bad specifier is reported against the manifest', () => {
    const s = selectEnvironment(m({ environment: { python: { requires: '>>3' } } }), envs);
    expect(s.ok).toBe(false);
    expect(s.step).toBe('manifest');
    expect(!s.ok && s.message).toMatch(/environment\.python\.requires: ">>3" is not a valid version requirement/);
  });
});

describe('several runtimes and ties', () => {
  it('every runtime must be satisfied', () => {
    const rOnly = env('R only', { r: ['4.3.1'] });
    const both = env('Both', { r: ['4.3.1'], python: ['3.11.9'] });
    expect(chosen(selectEnvironment(m({ platform: '4.3.1', python: { version: '3.11.1' } }), [rOnly, both]))).toBe('Both');
    const s = selectEnvironment(m({ platform: '4.3.1', python: { version: '3.11.1' } }), [rOnly]);
    expect(failure(s)).toMatch(/"R only" \(ghcr\.io\/test\/r-only:1\) offers R 4\.3\.1: no Python/);
  });

  it('compares runtimes in the order R, Python, Quarto', () => {
    const betterR = env('Better R', { r: ['4.3.1'], python: ['3.11.2'] });
    const betterPy = env('Better Py', { r: ['4.3.0'], python: ['3.11.5'] });
    expect(chosen(selectEnvironment(m({ platform: '4.3.1', python: { version: '3.11.5' } }), [betterPy, betterR]))).toBe('Better R');
  });

  it('an equal tie goes to the newest environment, then the smallest guid, whatever the order', () => {
    const older = env('Older', { r: ['4.3.1'] }, { created_time: '2026-01-01T00:00:00.000Z' });
    const newer = env('Newer', { r: ['4.3.1'] }, { created_time: '2026-03-01T00:00:00.000Z' });
    expect(chosen(selectEnvironment(m({ platform: '4.3.1' }), [older, newer]))).toBe('Newer');
    expect(chosen(selectEnvironment(m({ platform: '4.3.1' }), [newer, older]))).toBe('Newer');
    const t = '2026-01-01T00:00:00.000Z';
    const x = env('X', { r: ['4.3.1'] }, { created_time: t, guid: 'bbbbbbbb-0000-4000-8000-000000000000' });
    const y = env('Y', { r: ['4.3.1'] }, { created_time: t, guid: 'aaaaaaaa-0000-4000-8000-000000000000' });
    expect(chosen(selectEnvironment(m({ platform: '4.3.1' }), [x, y]))).toBe('Y');
    const s = selectEnvironment(m({ platform: '4.3.1' }), [y, x]);
    expect(chosen(s)).toBe('Y');
    expect(s.ok && s.reasons.at(-1)).toMatch(/1 other environment matches equally well .* ties go to the newest environment, then the smallest guid/);
  });

  it('says when others fit less closely', () => {
    const exact = env('Exact', { r: ['4.3.1'] });
    const near = env('Near', { r: ['4.3.2'] });
    const s = selectEnvironment(m({ platform: '4.3.1' }), [near, exact]);
    expect(chosen(s)).toBe('Exact');
    expect(s.ok && s.reasons.at(-1)).toMatch(/1 other compatible environment matches less closely \(next best: "Near"/);
  });

  it('content that needs no runtime takes any environment', () => {
    const s = selectEnvironment(m({ metadata: { appmode: 'static' } }), [env('Plain', {})]);
    expect(chosen(s)).toBe('Plain');
    expect(s.ok && s.reasons).toContain('The bundle asks for no particular runtime.');
  });

  it('node.version is matched against nodejs installations (nearest by default)', () => {
    const nodes = [env('Node 18', { nodejs: ['18.20.4'] }), env('Node 20', { nodejs: ['20.11.1'] })];
    expect(chosen(selectEnvironment(m({ node: { version: '20.9.0' } }), nodes))).toBe('Node 20');
    expect(chosen(selectEnvironment(m({ node: { version: '18.1.0' } }), nodes))).toBe('Node 18');
  });

  it('is deterministic: shuffling the list never changes the answer', () => {
    const pool = Array.from({ length: 8 }, (_, i) => env(`E${i}`, { r: [`4.${i % 4}.${i}`], python: ['3.11.9'] }, { created_time: '2026-01-01T00:00:00.000Z' }));
    const manifest = m({ platform: '4.2.0', python: { version: '3.11.0' } });
    const first = chosen(selectEnvironment(manifest, pool));
    for (let k = 0; k < 10; k++) {
      const shuffled = [...pool].sort(() => Math.random() - 0.5);
      expect(chosen(selectEnvironment(manifest, shuffled))).toBe(first);
    }
  });
});

describe('requirements from the manifest', () => {
  it('reads platform, python, quarto and node', () => {
    const reqs = requirementsOf(m({ platform: '4.3.1', python: { version: '3.11.5' }, quarto: { version: '1.5.57' }, node: { version: '20.1.0' } }));
    expect(reqs.map((r) => [r.language, r.version?.text, r.strategy])).toEqual([
      ['r', '4.3.1', 'nearest'],
      ['python', '3.11.5', 'major-minor'],
      ['quarto', '1.5.57', 'nearest'],
      ['nodejs', '20.1.0', 'nearest'],
    ]);
  });

  it('rejects a version that is not one', () => {
    const s = selectEnvironment(m({ platform: 'four' }), []);
    expect(!s.ok && s.message).toMatch(/manifest platform: "four" is not a version/);
  });
});
