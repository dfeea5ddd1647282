import { describe, expect, it } from 'vitest';
import { imageReferenceProblem, LIMITS, parseEnvironmentSpec, parseEnvironmentSpecList, parseEnvironmentUpdate } from '../../shared/environment';
import { AppError, type ErrorCode } from '../../shared/errors';
import { MAX_ERROR_DETAILS, QUOTE_MAX_CHARS, quote } from '../../shared/validation';
import { parseGuid } from '../../shared/api';
import { parseMemory } from '../../shared/quantity';
import { parseSpecifier } from '../../shared/version';

const valid = () => ({
  name: 'ghcr.io/rstudio/content-base:r4.3.1-py3.11.9-jammy',
  title: 'R 4.3 / Python 3.11',
  r: { installations: [{ version: '4.3.1', path: '/opt/R/4.3.1/bin/R' }] },
  python: { installations: [{ version: '3.11.9', path: '/opt/python/3.11.9/bin/python3' }] },
});

function errorOf(input: unknown, parse: (i: unknown) => unknown = parseEnvironmentSpec): AppError {
  try {
    parse(input);
  } catch (e) {
    if (e instanceof AppError) return e;
    throw e;
  }
  throw new Error('expected a validation error');
}

function expectError(input: unknown, code: ErrorCode, field: string | undefined, message?: RegExp) {
  const e = errorOf(input);
  expect(e.code).toBe(code);
  expect(e.field).toBe(field);
  if (message) expect(e.message).toMatch(message);
}

describe('a valid environment', () => {
  it('is normalised with defaults', () => {
    const spec = parseEnvironmentSpec(valid());
    expect(spec).toMatchObject({ matching: 'any', description: '', supervisor: null, cluster_name: 'Kubernetes', volume_mounts: [] });
    expect(spec.quarto).toEqual({ installations: [] });
    expect(spec.tensorflow).toEqual({ installations: [] });
    expect(spec.nodejs).toEqual({ installations: [] });
  });

  it('accepts installations: null and a null runtime, as Connect returns them', () => {
    const spec = parseEnvironmentSpec({ ...valid(), quarto: { installations: null }, tensorflow: null });
    expect(spec.quarto.installations).toEqual([]);
    expect(spec.tensorflow.installations).toEqual([]);
  });

  it('trims the title', () => {
    expect(parseEnvironmentSpec({ ...valid(), title: '  Base  ' }).title).toBe('Base');
  });
});

describe('title', () => {
  it.each([
    [undefined, /required/],
    [null, /required/],
    ['', /required/],
    ['   ', /required/],
    ['x'.repeat(65), /65 characters long; the limit is 64/],
    [42, /must be text/],
  ])('%j is rejected', (title, message) => {
    expectError({ ...valid(), title }, 'InvalidEnvironmentTitle', 'title', message);
  });
  it('allows 64 characters, counting emoji as one', () => {
    expect(parseEnvironmentSpec({ ...valid(), title: 'x'.repeat(64) }).title).toHaveLength(64);
    expect(parseEnvironmentSpec({ ...valid(), title: '🚀'.repeat(64) }).title).toBe('🚀'.repeat(64));
  });
});

describe('description', () => {
  it('is limited to 4096 characters', () => {
    expect(parseEnvironmentSpec({ ...valid(), description: 'd'.repeat(4096) }).description).toHaveLength(4096);
    expectError({ ...valid(), description: 'd'.repeat(4097) }, 'InvalidEnvironmentDescription', 'description', /4097 characters long; the limit is 4096/);
  });
  it('null means empty', () => {
    expect(parseEnvironmentSpec({ ...valid(), description: null }).description).toBe('');
  });
  it('must be text', () => {
    expectError({ ...valid(), description: ['a'] }, 'InvalidEnvironmentDescription', 'description', /must be text/);
  });
});

describe('name (the image)', () => {
  it.each([
    'python',
    'python:3.12',
    'ubuntu@sha256:' + 'a'.repeat(64),
    'ghcr.io/org/image:tag',
    'registry.example.com:5000/team/sub/image:1.0-rc.1',
    'localhost:5000/img',
    '127.0.0.1:5000/img:latest',
    'docker.io/library/r-base:4.3.1',
    'my_registry.local/a__b/c-d.e:v_1',
    'Registry.Example.com/img',
  ])('%s is a valid reference', (name) => {
    expect(imageReferenceProblem(name)).toBeUndefined();
    expect(parseEnvironmentSpec({ ...valid(), name }).name).toBe(name);
  });

  it.each([
    [undefined, /required/],
    ['', /required/],
    ['bad image', /must not contain spaces/],
    ['ghcr.io/Org/Image', /must be lower case/],
    ['UPPER', /must be lower case/],
    [' ghcr.io/a', /leading or trailing spaces/],
    ['ghcr.io/a:', /not a valid image reference/],
    ['ghcr.io/a:-tag', /not a valid image reference/],
    ['ghcr.io//a', /not a valid image reference/],
    ['a@sha256:short', /not a valid image reference/],
    ['a'.repeat(256), /longer than 255/],
    [7, /must be text/],
  ])('%j is rejected', (name, message) => {
    expectError({ ...valid(), name }, 'InvalidEnvironmentName', 'name', message);
  });
});

describe('cluster_name and matching', () => {
  it('cluster_name may be omitted or "Kubernetes", nothing else', () => {
    expect(parseEnvironmentSpec({ ...valid(), cluster_name: 'Kubernetes' }).cluster_name).toBe('Kubernetes');
    expectError({ ...valid(), cluster_name: 'Local' }, 'InvalidEnvironmentClusterName', 'cluster_name', /must be "Kubernetes"/);
  });
  it.each(['any', 'exact', 'none'])('matching %s is accepted', (matching) => {
    expect(parseEnvironmentSpec({ ...valid(), matching }).matching).toBe(matching);
  });
  it.each(['some', 'ANY', '', 3])('matching %j is rejected', (matching) => {
    expectError({ ...valid(), matching }, 'InvalidEnvironmentMatching', 'matching', /must be "any", "exact" or "none"/);
  });
});

describe('installations', () => {
  const withR = (inst: unknown) => ({ ...valid(), r: { installations: [inst] } });

  it.each(['4.3', '4.3.1', '1.5.57', '4.4.0-devel', '3.13.0rc1'])('version %s is accepted', (version) => {
    expect(parseEnvironmentSpec(withR({ version, path: '/opt/R/bin/R' })).r.installations[0]!.version).toBe(version);
  });

  it.each(['4', '4.x', 'latest', 'v4.3.1', '', '4.3.1.2.5'])('version %j is rejected', (version) => {
    expectError(withR({ version, path: '/opt/R/bin/R' }), 'InvalidInstallationVersion', 'r.installations[0].version', /not a version/);
  });

  it('a missing version or path says so', () => {
    expectError(withR({ path: '/opt/R/bin/R' }), 'InvalidInstallationVersion', 'r.installations[0].version', /needs a "version"/);
    expectError(withR({ version: '4.3.1' }), 'InvalidInstallationPath', 'r.installations[0].path', /needs a "path"/);
  });

  it.each([
    ['R', /absolute path/],
    ['bin/R', /absolute path/],
    ['', /required/],
    ['/opt/../R', /"\." or "\.\." segments/],
    ['/opt/R\nbin', /control characters/],
  ])('path %j is rejected', (path, message) => {
    expectError(withR({ version: '4.3.1', path }), 'InvalidInstallationPath', 'r.installations[0].path', message);
  });

  it('the same version twice is rejected', () => {
    const input = { ...valid(), python: { installations: [{ version: '3.11.9', path: '/a' }, { version: '3.11.9', path: '/b' }] } };
    expectError(input, 'InvalidInstallationVersion', 'python.installations[1].version', /listed twice/);
    const padded = { ...valid(), python: { installations: [{ version: '3.11', path: '/a' }, { version: '3.11.0', path: '/b' }] } };
    expectError(padded, 'InvalidInstallationVersion', 'python.installations[1].version', /3\.11\.0 is listed twice/);
    const distinct = { ...valid(), python: { installations: [{ version: '3.11.0', path: '/a' }, { version: '3.11.0rc1', path: '/b' }, { version: '3.1.1', path: '/c' }] } };
    expect(parseEnvironmentSpec(distinct).python.installations).toHaveLength(3);
  });

  it('unknown fields in an installation are rejected', () => {
    expectError(withR({ version: '4.3.1', path: '/r', arch: 'x86' }), 'InvalidRequest', 'r.installations[0].arch', /Unknown field "r.installations\[0\].arch"/);
  });

  it('reports the right code for each language', () => {
    for (const lang of ['python', 'quarto', 'tensorflow', 'nodejs']) {
      const e = errorOf({ ...valid(), [lang]: { installations: [{ version: 'x', path: '/p' }] } });
      expect(e.field).toBe(`${lang}.installations[0].version`);
      expect(e.code).toBe('InvalidInstallationVersion');
    }
  });
});

describe('supervisor', () => {
  it.each(['a\tb', 'a\nb', 'a\bb', 'a\fb', 'a\rb'])('%j is rejected', (supervisor) => {
    expectError({ ...valid(), supervisor }, 'InvalidEnvironmentSupervisor', 'supervisor', /control characters/);
  });
  it('blank means none', () => {
    expect(parseEnvironmentSpec({ ...valid(), supervisor: '  ' }).supervisor).toBeNull();
    expect(parseEnvironmentSpec({ ...valid(), supervisor: '/usr/local/bin/wrap --quiet' }).supervisor).toBe('/usr/local/bin/wrap --quiet');
  });
});

describe('volume mounts', () => {
  const mount = (source: unknown, target: unknown = { path: '/mnt/data' }) => ({ ...valid(), volume_mounts: [{ source, target }] });

  it('accepts NFS and PVC sources; read_only defaults to false', () => {
    const spec = parseEnvironmentSpec({
      ...valid(),
      volume_mounts: [
        { source: { volume_type: 'nfs', nfs_host: 'nfs.example.com', nfs_export_path: '/exports/data' }, target: { path: '/mnt/nfs', read_only: true } },
        { source: { volume_type: 'pvc', pvc_name: 'shared-data', nfs_host: '', nfs_export_path: null }, target: { path: '/mnt/pvc' } },
      ],
    });
    expect(spec.volume_mounts).toEqual([
      { source: { volume_type: 'nfs', nfs_host: 'nfs.example.com', nfs_export_path: '/exports/data' }, target: { path: '/mnt/nfs', read_only: true } },
      { source: { volume_type: 'pvc', pvc_name: 'shared-data' }, target: { path: '/mnt/pvc', read_only: false } },
    ]);
  });

  it.each([
    [{ volume_type: 'smb' }, 'volume_mounts[0].source.volume_type', /"nfs".*or "pvc"/],
    [{ volume_type: 'nfs', nfs_export_path: '/e' }, 'volume_mounts[0].source.nfs_host', /required/],
    [{ volume_type: 'nfs', nfs_host: 'bad host!', nfs_export_path: '/e' }, 'volume_mounts[0].source.nfs_host', /host name or IP/],
    [{ volume_type: 'nfs', nfs_host: 'h', nfs_export_path: 'exports' }, 'volume_mounts[0].source.nfs_export_path', /absolute path/],
    [{ volume_type: 'pvc', pvc_name: 'Bad_Name' }, 'volume_mounts[0].source.pvc_name', /Kubernetes name/],
    [{ volume_type: 'pvc' }, 'volume_mounts[0].source.pvc_name', /required/],
    [{ volume_type: 'pvc', pvc_name: 'ok', nfs_host: 'h' }, 'volume_mounts[0].source.nfs_host', undefined],
  ])('source %j is rejected', (source, field, message) => {
    const e = errorOf(mount(source));
    expect(e.code).toBe('InvalidEnvironmentVolume');
    expect(e.field).toBe(field);
    if (message) expect(e.message).toMatch(message);
  });

  it.each([
    [{ path: 'data' }, /absolute path/],
    [{ path: '/' }, /cannot be mounted over "\/"/],
    [{ path: '/opt/offhost/lib' }, /reserved/],
    [{ path: '/mnt/x', read_only: 'yes' }, /true or false/],
  ])('target %j is rejected', (target, message) => {
    const e = errorOf(mount({ volume_type: 'pvc', pvc_name: 'data' }, target));
    expect(e.code).toBe('InvalidEnvironmentVolume');
    expect(e.field).toMatch(/^volume_mounts\[0\]\.target\./);
    expect(e.message).toMatch(message);
  });

  it('two mounts at one path are rejected', () => {
    const m = { source: { volume_type: 'pvc', pvc_name: 'data' }, target: { path: '/mnt/a' } };
    expectError({ ...valid(), volume_mounts: [m, m] }, 'InvalidEnvironmentVolume', 'volume_mounts[1].target.path', /Two volumes are mounted at \/mnt\/a/);
  });
});

describe('the request as a whole', () => {
  it('rejects unknown fields, naming them', () => {
    expectError({ ...valid(), colour: 'blue' }, 'InvalidRequest', 'colour', /Unknown field "colour"/);
  });

  it('rejects a non-object body', () => {
    expectError(null, 'InvalidRequest', undefined, /must be an object, not null/);
    expectError([], 'InvalidRequest', undefined, /must be an object, not a list/);
  });

  it('reports every problem at once, first one on top', () => {
    const e = errorOf({ name: 'Bad Image', title: '', matching: 'x', r: { installations: [{ version: 'v', path: 'p' }] } });
    expect(e.details?.map((d) => [d.code, d.field])).toEqual([
      ['InvalidEnvironmentName', 'name'],
      ['InvalidEnvironmentTitle', 'title'],
      ['InvalidEnvironmentMatching', 'matching'],
      ['InvalidInstallationVersion', 'r.installations[0].version'],
      ['InvalidInstallationPath', 'r.installations[0].path'],
    ]);
  });
});

describe('updates', () => {
  it('accept name and the read-only fields a client echoes back, and drop the latter', () => {
    const u = parseEnvironmentUpdate({ title: 'T', name: 'img', guid: 'g', id: '3', created_time: 'x', updated_time: 'y', environment_type: 'Kubernetes', managed_by: null });
    expect(u).toMatchObject({ title: 'T', name: 'img' });
    expect(u).not.toHaveProperty('guid');
    expect(u).not.toHaveProperty('created_time');
  });

  it('validate like creation', () => {
    const e = errorOf({ title: '' }, parseEnvironmentUpdate);
    expect([e.code, e.field]).toEqual(['InvalidEnvironmentTitle', 'title']);
    const u = errorOf({ title: 'T', size: 3 }, parseEnvironmentUpdate);
    expect([u.code, u.field]).toEqual(['InvalidRequest', 'size']);
  });
});

describe('lists (the YAML file)', () => {
  it('prefix errors with the entry', () => {
    const e = errorOf([valid(), { ...valid(), name: 'other', python: { installations: [{ version: '3', path: '/p' }] } }], parseEnvironmentSpecList);
    expect(e.code).toBe('InvalidInstallationVersion');
    expect(e.field).toBe('[1].python.installations[0].version');
  });
  it('must be a list', () => {
    expect(errorOf({ a: 1 }, parseEnvironmentSpecList).message).toMatch(/Expected a list of environments/);
  });
});

describe('control characters in titles and descriptions', () => {
  it.each([
    ['a\u0007b', /U\+0007 at character 2/],
    ['line\nbreak', /U\+000A \(line feed\) at line 1, column 5/],
    ['tab\there', /U\+0009 \(tab\) at character 4/],
    ['nul\u0000', /U\+0000 \(NUL\) at character 4/],
    ['esc\u001b[31m', /U\+001B \(escape\)/],
    ['c1\u0085', /U\+0085/],
    ['bidi \u202egnp.exe', /U\+202E \(right-to-left override\) at character 6/],
    ['🚀\u0001', /U\+0001 at character 2/],
  ])('a title %j is refused, naming the character and where', (title, message) => {
    expectError({ ...valid(), title }, 'InvalidEnvironmentTitle', 'title', message);
  });

  it('a title keeps surrounding whitespace out (trimmed) rather than refusing it', () => {
    expect(parseEnvironmentSpec({ ...valid(), title: 'Base\n' }).title).toBe('Base');
  });

  it('descriptions allow line feeds and tabs, and turn Windows line ends into line feeds', () => {
    expect(parseEnvironmentSpec({ ...valid(), description: 'one\n\ttwo' }).description).toBe('one\n\ttwo');
    expect(parseEnvironmentSpec({ ...valid(), description: 'one\r\ntwo' }).description).toBe('one\ntwo');
  });

  it.each([
    ['one\ntwo\u0008', /U\+0008 at line 2, column 4; only line feeds and tabs are allowed/],
    ['lone\rreturn', /U\+000D \(carriage return\) at character 5/],
    ['\u2028', /U\+2028 \(line separator\)/],
  ])('a description %j is refused, naming the character and where', (description, message) => {
    expectError({ ...valid(), description }, 'InvalidEnvironmentDescription', 'description', message);
  });
});

describe('messages never echo huge inputs', () => {
  const huge = 'x'.repeat(100_000);

  it('quote() cuts long text and says how long it was', () => {
    expect(quote('short')).toBe('"short"');
    const q = quote(huge);
    expect(q.length).toBeLessThan(QUOTE_MAX_CHARS + 40);
    expect(q).toMatch(/… \(100000 characters\)$/);
    expect(quote('🚀'.repeat(200))).toMatch(/^"(🚀){80}"… \(200 characters\)$/);
  });

  it.each([
    ['name', { name: `ghcr.io/${huge.toUpperCase()}` }],
    ['version', { r: { installations: [{ version: huge, path: '/p' }] } }],
    ['path', { r: { installations: [{ version: '4.3.1', path: huge }] } }],
    ['matching', { matching: huge }],
    ['cluster_name', { cluster_name: huge }],
    ['pvc_name', { volume_mounts: [{ source: { volume_type: 'pvc', pvc_name: huge }, target: { path: '/mnt' } }] }],
    ['nfs_host', { volume_mounts: [{ source: { volume_type: 'nfs', nfs_host: huge, nfs_export_path: '/e' }, target: { path: '/mnt' } }] }],
    ['nfs_host, not a host name', { volume_mounts: [{ source: { volume_type: 'nfs', nfs_host: `${huge}!`, nfs_export_path: '/e' }, target: { path: '/mnt' } }] }],
    ['title', { title: huge }],
    ['description', { description: huge }],
    ['an unknown field', { [huge]: 1 }],
  ])('%s', (_what, over) => {
    const e = errorOf({ ...valid(), ...over });
    const body = JSON.stringify(e.toBody());
    expect(body.length).toBeLessThan(1000);
  });

  it('nor do version requirements, quantities or guids', () => {
    const messageOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return (e as Error).message;
      }
      throw new Error('expected an error');
    };
    for (const message of [messageOf(() => parseSpecifier(`>=${huge}`)), messageOf(() => parseMemory(huge)), messageOf(() => parseGuid(huge))])
      expect(message.length).toBeLessThan(400);
  });

  it('an input with thousands of problems reports the first few', () => {
    const installations = Array.from({ length: 40 }, (_, i) => ({ version: `bad-${i}`, path: 'relative' }));
    const e = errorOf({ ...valid(), r: { installations } });
    expect(e.details).toHaveLength(MAX_ERROR_DETAILS);
    expect(e.details![0]!.field).toBe('r.installations[0].version');
  });
});

describe('limits', () => {
  const inst = (n: number) => Array.from({ length: n }, (_, i) => ({ version: `3.${i}.0`, path: `/opt/python/3.${i}/bin/python3` }));
  const mounts = (n: number) => Array.from({ length: n }, (_, i) => ({ source: { volume_type: 'pvc', pvc_name: 'data' }, target: { path: `/mnt/d${i}` } }));

  it(`installations per runtime: ${LIMITS.installationsPerRuntime} pass, one more is refused (20,000 too, quickly)`, () => {
    expect(parseEnvironmentSpec({ ...valid(), python: { installations: inst(LIMITS.installationsPerRuntime) } }).python.installations).toHaveLength(
      LIMITS.installationsPerRuntime,
    );
    expectError(
      { ...valid(), python: { installations: inst(LIMITS.installationsPerRuntime + 1) } },
      'LimitExceeded',
      'python.installations',
      new RegExp(`Too many installations: ${LIMITS.installationsPerRuntime + 1} given; the limit is ${LIMITS.installationsPerRuntime}`),
    );
    const started = performance.now();
    expectError({ ...valid(), r: { installations: inst(20_000) } }, 'LimitExceeded', 'r.installations');
    expect(performance.now() - started).toBeLessThan(200);
  });

  it(`volume mounts: ${LIMITS.volumeMounts} pass, one more is refused`, () => {
    expect(parseEnvironmentSpec({ ...valid(), volume_mounts: mounts(LIMITS.volumeMounts) }).volume_mounts).toHaveLength(LIMITS.volumeMounts);
    expectError({ ...valid(), volume_mounts: mounts(LIMITS.volumeMounts + 1) }, 'LimitExceeded', 'volume_mounts', /Too many volume mounts: 33 given; the limit is 32/);
  });

  it(`environments per file: ${LIMITS.environmentsPerFile} pass, one more is refused`, () => {
    const list = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `ghcr.io/org/i${i}:1`, title: `I${i}` }));
    expect(parseEnvironmentSpecList(list(LIMITS.environmentsPerFile))).toHaveLength(LIMITS.environmentsPerFile);
    const e = errorOf(list(LIMITS.environmentsPerFile + 1), parseEnvironmentSpecList);
    expect([e.code, e.field]).toEqual(['LimitExceeded', `[${LIMITS.environmentsPerFile}]`]);
    expect(e.message).toMatch(/1001 environments; the limit is 1000/);
  });
});
