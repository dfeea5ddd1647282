// What runs in a job's pod for every app mode × job kind (main/kube/commands.ts): each script is
// snapshot-tested and parsed by sh -n; refusals say why; the supervisor wraps; package sources and
// the library's reuse marker appear as the build needs them.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { APP_MODES, JOB_KINDS, type AppMode, type JobKind } from '../../shared/content';
import { DEFAULT_PACKAGE_SOURCES, parsePackageSources, type PackageSources } from '../../shared/package-sources';
import { jobCommand, languagesOf, libraryKey, pythonTarget, sh, type ExecSpec } from '../../main/kube/commands';
import { NO_VOLUME_MESSAGE, prepareExecution, pythonPackageFile, rPackagesOf } from '../../main/launcher/execution';

const SOURCES: PackageSources = {
  python_index_url: null,
  python_find_links: ['file:///srv/wheels'],
  python_no_index: true,
  r_repositories: [{ name: 'CRAN', url: 'file:///srv/cran' }],
};

function spec(kind: JobKind, mode: AppMode, over: Partial<ExecSpec> = {}): ExecSpec {
  const manifest = mode.startsWith('quarto') ? { quarto: { engines: ['knitr'] } } : {};
  const languages = languagesOf(mode, manifest);
  return {
    kind,
    mode,
    entrypoint: null,
    primaryDocument: null,
    python: languages.includes('python') || mode.startsWith('quarto') ? '/opt/python/3.11.9/bin/python3' : null,
    r: languages.includes('r') ? '/opt/R/4.3.1/bin/R' : null,
    quarto: mode.startsWith('quarto') ? '/opt/quarto/1.4.557/bin/quarto' : null,
    languages,
    pythonPackageFile: 'requirements.txt',
    hasRenvLock: false,
    rPackages: languages.includes('r') ? [{ name: 'rmarkdown', version: '2.25' }] : [],
    hideAllInput: false,
    hideTaggedInput: false,
    supervisor: null,
    sources: SOURCES,
    libraryKey: 'lib-0123456789abcdef0123456789abcdef',
    ...over,
  };
}

const cases = (Object.keys(APP_MODES) as AppMode[]).flatMap((mode) => JOB_KINDS.map((kind) => ({ mode, kind })));

describe('jobCommand for every app mode × job kind', () => {
  it.each(cases)('$mode × $kind', ({ mode, kind }) => {
    const c = jobCommand(spec(kind, mode));
    if (!c.ok) {
      expect(c.message).toMatch(/\w/);
      expect(`REFUSED ${c.reason}: ${c.message}`).toMatchSnapshot();
      return;
    }
    expect(c.command).toEqual(['sh', '-c', c.script]);
    // The script is valid sh.
    execFileSync('sh', ['-n', '-c', c.script]);
    expect(c.script).toMatchSnapshot();
  });

  it('decides what runs, what renders and what is refused', () => {
    const ok = (kind: JobKind, mode: AppMode) => jobCommand(spec(kind, mode)).ok;
    for (const mode of ['rmd-static', 'jupyter-static', 'quarto-static', 'static'] as AppMode[]) {
      expect(ok('render', mode), mode).toBe(true);
      expect(ok('run', mode), mode).toBe(false);
    }
    for (const mode of ['shiny', 'rmd-shiny', 'api', 'python-fastapi', 'python-api', 'python-dash', 'python-streamlit', 'python-bokeh', 'python-shiny', 'jupyter-voila', 'python-gradio', 'python-panel', 'quarto-shiny'] as AppMode[]) {
      expect(ok('run', mode), mode).toBe(true);
      expect(ok('render', mode), mode).toBe(false);
      expect(ok('build', mode), mode).toBe(true);
    }
    expect(jobCommand(spec('run', 'nodejs'))).toMatchObject({ ok: false, reason: 'UnsupportedAppMode' });
  });
});

describe('the build', () => {
  it('restores Python with pip into a venv from the admin sources, marks it ready, and reuses a ready library', () => {
    const c = jobCommand(spec('build', 'python-fastapi'));
    if (!c.ok) throw new Error(c.message);
    expect(c.script).toContain("/opt/python/3.11.9/bin/python3 -m venv --system-site-packages /opt/offhost/library/python");
    expect(c.script).toContain('-m pip install --no-input --disable-pip-version-check --no-cache-dir --progress-bar off --no-index --find-links file:///srv/wheels -r requirements.txt');
    expect(c.script).toContain("Restoring Python packages from requirements.txt with pip, from find-links file:///srv/wheels");
    expect(c.script).toMatch(/if \[ -f \/opt\/offhost\/library\/\.offhost-ready \]; then\n  say "Reusing the package library lib-0123456789abcdef0123456789abcdef .*"\n  exit 0/);
    expect(c.script.indexOf('date -u')).toBeGreaterThan(c.script.indexOf('pip install'));
  });

  it('uses an index URL when one is set, and says when none is', () => {
    const withIndex = jobCommand(spec('build', 'python-dash', { sources: { ...DEFAULT_PACKAGE_SOURCES, python_index_url: 'https://pypi.internal/simple' } }));
    expect(withIndex.ok && withIndex.script).toContain('--index-url https://pypi.internal/simple -r requirements.txt');
    const none = jobCommand(spec('build', 'python-dash', { sources: DEFAULT_PACKAGE_SOURCES }));
    expect(none.ok && none.script).toContain("default index (no Python index is set in Settings → Package sources)");
  });

  it('restores R with renv when renv.lock and renv are there, else installs what the image lacks from the repositories', () => {
    const renv = jobCommand(spec('build', 'shiny', { hasRenvLock: true }));
    expect(renv.ok && renv.script).toContain("renv::restore(lockfile = 'renv.lock', library = lib, repos = repos, prompt = FALSE, clean = FALSE)");
    const plain = jobCommand(spec('build', 'rmd-static'));
    if (!plain.ok) throw new Error(plain.message);
    expect(plain.script).not.toContain('renv::restore');
    expect(plain.script).toContain("repos <- c('CRAN' = 'file:///srv/cran')");
    expect(plain.script).toContain("install.packages(missing, lib = lib, repos = repos");
    const noRepo = jobCommand(spec('build', 'rmd-static', { sources: DEFAULT_PACKAGE_SOURCES }));
    expect(noRepo.ok && noRepo.script).toContain('no CRAN-like repository is set (Settings → Package sources)');
  });

  it('static content and content without languages restores nothing', () => {
    const c = jobCommand(spec('build', 'static'));
    expect(c.ok && c.script).toContain('Nothing to restore for static content.');
  });
});

describe('runs and renders', () => {
  it('starts FastAPI with uvicorn on 0.0.0.0:8080 from the entrypoint', () => {
    const c = jobCommand(spec('run', 'python-fastapi', { entrypoint: 'main:api' }));
    expect(c.ok && c.script).toContain('exec "$PY" -m uvicorn main:api --host 0.0.0.0 --port 8080');
    expect(pythonTarget('app.py', 'app', 'app')).toEqual({ module: 'app', object: 'app' });
    expect(pythonTarget('pkg/server.py', 'app', 'app')).toEqual({ module: 'pkg.server', object: 'app' });
    expect(pythonTarget('x; rm -rf /', 'app', 'app')).toBeNull();
    expect(jobCommand(spec('run', 'python-fastapi', { entrypoint: '$(reboot)' }))).toMatchObject({ ok: false, reason: 'InvalidEntrypoint' });
  });

  it('renders R Markdown into the output with index.html as the front page', () => {
    const c = jobCommand(spec('render', 'rmd-static', { entrypoint: 'report.Rmd' }));
    if (!c.ok) throw new Error(c.message);
    expect(c.script).toContain("ENTRY=report.Rmd");
    expect(c.script).toContain("rmarkdown::render(Sys.getenv('ENTRY'), output_dir = '/opt/offhost/output'");
    expect(c.script).toContain('cp "/opt/offhost/output/$BASE.html" /opt/offhost/output/index.html');
  });

  it('hides notebook input as the manifest asks', () => {
    const c = jobCommand(spec('render', 'jupyter-static', { hideAllInput: true, hideTaggedInput: true }));
    expect(c.ok && c.script).toContain('--to html --execute --no-input --TagRemovePreprocessor.remove_input_tags=hide_input --output-dir /opt/offhost/output');
  });

  it('quotes names from the manifest for sh', () => {
    const c = jobCommand(spec('run', 'python-streamlit', { entrypoint: "it's app.py" }));
    if (!c.ok) throw new Error(c.message);
    expect(c.script).toContain(`ENTRY='it'\\''s app.py'`);
    execFileSync('sh', ['-n', '-c', c.script]);
    expect(sh("a'b")).toBe(`'a'\\''b'`);
  });

  it('refuses a job whose environment lacks the interpreter', () => {
    expect(jobCommand(spec('run', 'python-fastapi', { python: null }))).toMatchObject({ ok: false, reason: 'NoRuntime', message: expect.stringContaining('no Python installation') });
    expect(jobCommand(spec('render', 'quarto-static', { quarto: null }))).toMatchObject({ ok: false, reason: 'NoRuntime', message: expect.stringContaining('no Quarto installation') });
  });

  it('wraps the whole script in the environment supervisor', () => {
    const c = jobCommand(spec('run', 'shiny', { supervisor: '/opt/bin/supervise --log' }));
    if (!c.ok) throw new Error(c.message);
    expect(c.command).toEqual(['sh', '-c', 'exec /opt/bin/supervise --log /bin/sh -c "$1"', 'offhost-supervised', c.script]);
  });
});

describe('inputs from the bundle', () => {
  it('languages: the mode’s, plus Python for R content with a python section, plus Quarto engines', () => {
    expect(languagesOf('python-fastapi', {})).toEqual(['python']);
    expect(languagesOf('rmd-static', {})).toEqual(['r']);
    expect(languagesOf('rmd-static', { python: { version: '3.11' } })).toEqual(['python', 'r']);
    expect(languagesOf('quarto-static', { quarto: { engines: ['jupyter'] } })).toEqual(['python']);
    expect(languagesOf('quarto-static', { quarto: { engines: ['markdown'] } })).toEqual([]);
    expect(languagesOf('static', {})).toEqual([]);
  });

  it('library key: same inputs same key; another lock another key', () => {
    const base = { environmentGuid: 'e', python: '/usr/bin/python3', r: null, pythonLock: 'fastapi==0.115.0\n', rLock: null };
    expect(libraryKey(base)).toBe(libraryKey({ ...base }));
    expect(libraryKey(base)).toMatch(/^lib-[0-9a-f]{32}$/);
    expect(libraryKey({ ...base, pythonLock: 'fastapi==0.115.1\n' })).not.toBe(libraryKey(base));
    expect(libraryKey({ ...base, environmentGuid: 'f' })).not.toBe(libraryKey(base));
  });

  it('package file and R packages from the manifest or renv.lock', () => {
    expect(pythonPackageFile({ python: { package_manager: { package_file: 'reqs/prod.txt' } } })).toBe('reqs/prod.txt');
    expect(pythonPackageFile({ python: { package_manager: { package_file: '../etc/passwd' } } })).toBe('requirements.txt');
    expect(pythonPackageFile({})).toBe('requirements.txt');
    const manifest = { packages: { shiny: { description: { Package: 'shiny', Version: '1.8.0' } }, 'bad name': {} } };
    expect(rPackagesOf(manifest, undefined)).toEqual([{ name: 'shiny', version: '1.8.0' }]);
    const lock = JSON.stringify({ Packages: { knitr: { Package: 'knitr', Version: '1.45' }, renv: { Package: 'renv', Version: '1.0.3' } } });
    expect(rPackagesOf(manifest, lock)).toEqual([{ name: 'knitr', version: '1.45' }, { name: 'renv', version: '1.0.3' }]);
  });
});

describe('package sources (admin setting)', () => {
  it('accepts http(s) and file:/// URLs and fills defaults', () => {
    expect(parsePackageSources({})).toEqual(DEFAULT_PACKAGE_SOURCES);
    expect(parsePackageSources(SOURCES)).toEqual(SOURCES);
  });

  it.each([
    [{ python_index_url: 'ftp://x/simple' }, 'python_index_url', /https:\/\/, http:\/\/ or file:\/\//],
    [{ python_index_url: 'pypi.org/simple' }, 'python_index_url', /absolute URL/],
    [{ python_find_links: ['file://host/wheels'] }, 'python_find_links[0]', /file:\/\/\/absolute\/path/],
    [{ python_find_links: ["file:///a'b"] }, 'python_find_links[0]', /quotes/],
    [{ python_no_index: true }, 'python_no_index', /find-links/],
    [{ r_repositories: [{ name: '1bad', url: 'https://cran.r-project.org' }] }, 'r_repositories[0].name', /start with a letter/],
    [{ r_repositories: [{ name: 'CRAN', url: 'https://a' }, { name: 'CRAN', url: 'https://b' }] }, 'r_repositories[1].name', /Two R repositories/],
    [{ extra: 1 }, 'extra', /Unknown field/],
  ])('refuses %j at %s', (input, field, message) => {
    try {
      parsePackageSources(input);
      throw new Error('accepted');
    } catch (e) {
      expect((e as { field?: string }).field).toBe(field);
      expect((e as Error).message).toMatch(message);
    }
  });
});

describe('prepareExecution refusals (before any pod)', () => {
  const bundle = { id: 1, content_id: 1, sha256: 'a'.repeat(64), size: 1, app_mode: 'python-fastapi' as const, manifest: {}, metadata: {}, created_by: 't', created_time: '' };
  const job = { id: 5, kind: 'build' as const, environment_guid: '00000000-0000-4000-8000-000000000001' };
  const content = { guid: '0f4b8e2c-5c1e-4f7a-9d0b-3a2e1c4d5e6f', app_mode: 'python-fastapi' as const };

  it('without a content volume the job fails, saying what to set', async () => {
    const r = await prepareExecution({ volume: null, archiveOf: () => '/nope', environment: async () => undefined, packageSources: async () => DEFAULT_PACKAGE_SOURCES }, job, content, bundle, () => {});
    expect(r).toEqual({ ok: false, reason: 'NoContentVolume', message: NO_VOLUME_MESSAGE });
    expect(NO_VOLUME_MESSAGE).toContain('OFFHOST_CONTENT_CLAIM');
    expect(NO_VOLUME_MESSAGE).toContain('OFFHOST_CONTENT_VOLUME');
  });

  it('a deleted environment fails the job with its guid', async () => {
    const volume = { mode: 'mounted' as const, claimName: 'c', ensureBundle: async () => {}, ensureWritable: async () => {}, fetchOutput: async () => {} };
    const r = await prepareExecution({ volume, archiveOf: () => '/nope', environment: async () => undefined, packageSources: async () => DEFAULT_PACKAGE_SOURCES }, job, content, bundle, () => {});
    expect(r).toMatchObject({ ok: false, reason: 'EnvironmentDeleted', message: expect.stringContaining(job.environment_guid) });
  });
});
