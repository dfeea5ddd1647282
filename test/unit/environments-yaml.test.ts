// Reading environments YAML: strict schema (no unknown tags), alias bombs, empty texts versus an
// explicit empty list, the size caps, and parsing off the event loop in a worker thread.
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseEnvironmentsYamlOffThread, workerEntry } from '../../main/environments/parse-off-thread';
import { environmentsFromYaml, parseEnvironmentsYaml } from '../../main/environments/yaml';
import { LIMITS } from '../../shared/environment';
import { AppError, type ErrorCode } from '../../shared/errors';

function errorOf(fn: () => unknown): AppError {
  try {
    fn();
  } catch (e) {
    if (e instanceof AppError) return e;
    throw e;
  }
  throw new Error('expected an AppError');
}

async function rejection(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof AppError) return e;
    throw e;
  }
  throw new Error('expected an AppError');
}

const one = '- name: ghcr.io/org/a:1\n  title: A\n';

/** An environments list of about `bytes` bytes, each entry valid. */
function bigYaml(entries: number, padTo = 0): string {
  const pad = padTo ? Math.max(0, Math.floor(padTo / entries) - 200) : 0;
  let s = '';
  for (let i = 0; i < entries; i++)
    s += `- name: ghcr.io/org/image-${i}:1\n  title: Image ${i}\n  description: "${'d'.repeat(Math.min(pad, 4000))}"\n  python: { installations: [{ version: 3.11.${i % 9}, path: /opt/python/bin/python3 }] }\n`;
  return s;
}

describe('the YAML schema is strict', () => {
  it.each([
    ['a JavaScript function tag', '- name: !!js/function "function () {}"\n  title: A\n', /Unresolved tag/],
    ['a custom local tag', '- name: !image a\n  title: A\n', /Unresolved tag: !image/],
    ['a YAML 1.1 binary', '- name: ghcr.io/org/a:1\n  title: !!binary aGVsbG8=\n', /Unresolved tag/],
    ['a YAML 1.1 timestamp', '- name: ghcr.io/org/a:1\n  title: !!timestamp 2001-12-14\n', /Unresolved tag/],
    ['a YAML 1.1 document asking for a set', '%YAML 1.1\n---\n- !!set { a, b }\n', /Unresolved tag/],
  ])('refuses %s', (_what, text, message) => {
    const e = errorOf(() => parseEnvironmentsYaml(text));
    expect(e.code).toBe('InvalidYaml');
    expect(e.message).toMatch(message);
    expect(e.message).toMatch(/line \d+, column \d+/);
  });

  it('allows the core tags', () => {
    expect(environmentsFromYaml('- name: ghcr.io/org/a:1\n  title: !!str 12\n')[0]!.title).toBe('12');
  });

  it('has no merge keys: "<<" is just an unknown field', () => {
    const e = errorOf(() => parseEnvironmentsYaml('- &base { name: ghcr.io/org/a:1, title: A }\n- <<: *base\n  name: ghcr.io/org/b:1\n'));
    expect(e.details?.map((d) => [d.code, d.field])).toContainEqual(['InvalidRequest', '[1].<<']);
  });

  it('refuses a key given twice, and several documents', () => {
    expect(errorOf(() => parseEnvironmentsYaml('- name: a\n  name: b\n')).code).toBe('InvalidYaml');
    expect(errorOf(() => parseEnvironmentsYaml(`${one}---\n${one}`)).code).toBe('InvalidYaml');
  });
});

describe('aliases', () => {
  it('a few are fine', () => {
    const specs = environmentsFromYaml(
      '- name: ghcr.io/org/a:1\n  title: A\n  python: &py { installations: [{ version: 3.11.9, path: /py }] }\n- name: ghcr.io/org/b:1\n  title: B\n  python: *py\n',
    );
    expect(specs[1]!.python.installations).toEqual([{ version: '3.11.9', path: '/py' }]);
  });

  it('an alias bomb ("billion laughs") is InvalidYaml, quickly, not an internal error', () => {
    let bomb = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n';
    for (let i = 1; i < 9; i++) {
      const prev = String.fromCharCode(96 + i);
      const next = String.fromCharCode(97 + i);
      bomb += `${next}: &${next} [${Array(9).fill(`*${prev}`).join(',')}]\n`;
    }
    const started = performance.now();
    const e = errorOf(() => parseEnvironmentsYaml(bomb));
    expect(e.code).toBe('InvalidYaml');
    expect(e.message).toMatch(/aliases/);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe('empty text versus an empty list', () => {
  it.each([
    ['nothing', ''],
    ['blanks', '  \n\n\t\n'],
    ['comments only', '# environments\n# (none yet)\n'],
    ['a bare null', '~\n'],
  ])('%s is empty', (_what, text) => {
    expect(parseEnvironmentsYaml(text)).toEqual({ kind: 'empty' });
  });

  it.each([['[]'], ['[]  # nothing\n'], ['environments: []\n']])('%j is an explicit empty list', (text) => {
    expect(parseEnvironmentsYaml(text)).toEqual({ kind: 'list', specs: [] });
  });
});

describe('size caps', () => {
  it(`refuses more than ${LIMITS.yamlBytes} bytes of YAML before parsing it`, () => {
    const text = `# ${'x'.repeat(LIMITS.yamlBytes)}\n${one}`;
    const e = errorOf(() => parseEnvironmentsYaml(text));
    expect([e.code, e.field]).toEqual(['LimitExceeded', 'yaml']);
    expect(e.message).toMatch(/the limit is 1048576 bytes/);
  });

  it(`refuses more than ${LIMITS.environmentsPerFile} environments`, () => {
    const e = errorOf(() => parseEnvironmentsYaml(bigYaml(LIMITS.environmentsPerFile + 1)));
    expect([e.code, e.field]).toEqual(['LimitExceeded', '[1000]']);
  });

  it('an error message never quotes a huge value back', () => {
    const e = errorOf(() => parseEnvironmentsYaml(`- name: ghcr.io/org/a:1\n  title: A\n  r: { installations: [{ version: "${'9'.repeat(500_000)}x", path: /r }] }\n`));
    expect(e.code).toBe('InvalidInstallationVersion');
    expect(e.message.length).toBeLessThan(300);
  });
});

describe('parsing off the event loop', () => {
  it('finds the bundled worker next to a bundle, and the TypeScript entry in the sources', () => {
    expect(workerEntry('file:///opt/Offhost/resources/app.asar/dist/main/electron.js')).toEqual({
      file: '/opt/Offhost/resources/app.asar/dist/main/environments-worker.cjs',
      eval: false,
    });
    const source = workerEntry(pathToFileURL(`${process.cwd()}/main/environments/parse-off-thread.ts`).href);
    expect(source.eval).toBe(true);
    expect(source.file).toContain('parse-worker.ts');
  });

  it('a worker (started from the TypeScript sources) gives the same result as parsing in place', async () => {
    const text = bigYaml(300);
    expect(await parseEnvironmentsYamlOffThread(text, { inlineMaxBytes: 0 })).toEqual(parseEnvironmentsYaml(text));
  });

  it.each<[string, string, ErrorCode, string | undefined]>([
    ['a validation error', '- name: ghcr.io/org/a:1\n  title: ""\n', 'InvalidEnvironmentTitle', '[0].title'],
    ['a YAML error', '- name: [oops\n', 'InvalidYaml', undefined],
    ['an unknown tag', '- !!js/function x\n', 'InvalidYaml', undefined],
  ])('the worker passes back %s as the same AppError', async (_what, text, code, field) => {
    const e = await rejection(parseEnvironmentsYamlOffThread(text, { inlineMaxBytes: 0 }));
    expect([e.code, e.field]).toEqual([code, field]);
    expect(e.message).toBe(errorOf(() => parseEnvironmentsYaml(text)).message);
  });

  it('a worker that takes too long is stopped with LimitExceeded, and the next text gets a fresh one', async () => {
    const text = bigYaml(300);
    const slow = await rejection(parseEnvironmentsYamlOffThread(text, { inlineMaxBytes: 0, timeoutMs: 1 }));
    expect([slow.code, slow.field]).toEqual(['LimitExceeded', 'yaml']);
    expect(slow.message).toMatch(/took longer than/);
    const parsed = await parseEnvironmentsYamlOffThread(text, { inlineMaxBytes: 0 });
    expect(parsed.kind === 'list' && parsed.specs.length).toBe(300);
  });

  it('texts sent at once are all answered, each with its own result', async () => {
    const texts = [bigYaml(10), '- name: [oops\n', bigYaml(20)];
    const results = await Promise.allSettled(texts.map((t) => parseEnvironmentsYamlOffThread(t, { inlineMaxBytes: 0 })));
    expect(results.map((r) => (r.status === 'fulfilled' ? (r.value.kind === 'list' ? r.value.specs.length : 'empty') : (r.reason as AppError).code))).toEqual([
      10,
      'InvalidYaml',
      20,
    ]);
  });

  it('the event loop keeps running while a megabyte is parsed', async () => {
    const text = bigYaml(LIMITS.environmentsPerFile, LIMITS.yamlBytes - 10_000);
    expect(Buffer.byteLength(text)).toBeGreaterThan(900_000);
    let last = performance.now();
    let maxGap = 0;
    const ticker = setInterval(() => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
    }, 5);
    const started = performance.now();
    try {
      const parsed = await parseEnvironmentsYamlOffThread(text);
      expect(parsed.kind === 'list' && parsed.specs.length).toBe(LIMITS.environmentsPerFile);
    } finally {
      clearInterval(ticker);
    }
    const total = performance.now() - started;
    // In place, the longest gap would be the whole parse; in a worker it is a small part of it.
    expect(maxGap).toBeLessThan(total / 3);
  });
});
