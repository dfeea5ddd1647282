// What runs inside a job's pod, for every app mode × job kind (pure: snapshot-tested in
// test/unit/job-commands.test.ts). Each job is one small POSIX sh script that prints plain progress
// lines, copies the read-only bundle into the pod's working directory (tools write next to their
// input), and then:
//   build   restores packages into the content's library on the content volume — a Python venv
//           (--system-site-packages, so the image's packages count) from the requirements file with
//           pip, R packages with renv::restore (when the image has renv) or install.packages for
//           what the image lacks — using the admin's package sources; a library already marked
//           ready is reused and nothing is restored;
//   render  renders the document into the job's output directory (rmarkdown::render, nbconvert,
//           quarto render; a copy for static files), with index.html as its front page;
//   run     starts the app or API on 0.0.0.0:APP_PORT, where the Service and the probe expect it.
// The environment's supervisor, when set, wraps the whole script. Paths come from the selected
// environment's installations and the bundle's manifest.
import { createHash } from 'node:crypto';
import { isRendered, type AppMode, type JobKind } from '../../shared/content';
import type { PackageSources } from '../../shared/package-sources';
import { JOB_PATHS } from '../content/volume';
import { APP_PORT } from './manifests';

/** The file a successful restore writes into the library (its time, UTC); later builds reuse such a library. */
export const READY_MARKER = '.offhost-ready';
/** A directory a build holds while it restores a library (mkdir is atomic, on NFS too). */
export const RESTORE_LOCK = '.offhost-restoring';
/** A restore lock this old was left by a pod that was killed (builds have a 60-minute deadline). */
const STALE_LOCK_MINUTES = 70;

export type Language = 'python' | 'r';

export interface RPackage {
  name: string;
  version: string | null;
}

/** Everything a job's script depends on; derived from the manifest, environment and settings by execSpecOf. */
export interface ExecSpec {
  kind: JobKind;
  mode: AppMode;
  /** manifest metadata.entrypoint ("app.py", "main:app", "report.Rmd"), or null. */
  entrypoint: string | null;
  /** metadata.primary_rmd / primary_html, for documents. */
  primaryDocument: string | null;
  /** The selected installations' executables (null: the environment has none for the language). */
  python: string | null;
  r: string | null;
  quarto: string | null;
  /** Which languages the build restores and the run uses. */
  languages: Language[];
  /** The Python package file in the bundle (manifest python.package_manager.package_file, else requirements.txt). */
  pythonPackageFile: string;
  /** renv.lock in the bundle: renv::restore when the image has renv. */
  hasRenvLock: boolean;
  /** R packages the bundle needs (renv.lock's, else the manifest's "packages"), to install what the image lacks. */
  rPackages: RPackage[];
  /** jupyter nbconvert options from the manifest. */
  hideAllInput: boolean;
  hideTaggedInput: boolean;
  supervisor: string | null;
  sources: PackageSources;
  /** The library's key on the content volume (libraryKey). */
  libraryKey: string;
}

export type JobCommand = { ok: true; command: string[]; script: string } | { ok: false; reason: string; message: string };

// --- quoting ------------------------------------------------------------------------------------

/** A word for sh: single-quoted, with ' written as '\''. */
export function sh(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** A string literal for R or Python (both accept '…' with \\ and \' escapes). */
function lit(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n')}'`;
}

// --- which languages, which key ------------------------------------------------------------------

const R_MODES: readonly AppMode[] = ['shiny', 'rmd-shiny', 'rmd-static', 'api'];
const PYTHON_MODES: readonly AppMode[] = [
  'python-api',
  'python-dash',
  'python-streamlit',
  'python-bokeh',
  'python-fastapi',
  'python-shiny',
  'jupyter-static',
  'jupyter-voila',
  'python-gradio',
  'python-panel',
  'tensorflow-saved-model',
];

/**
 * The languages content uses: its mode's, plus Python for R or Quarto content whose manifest has a
 * python section (reticulate, the jupyter engine), plus R for Quarto content with the knitr engine.
 */
export function languagesOf(mode: AppMode, manifest: { python?: unknown; platform?: unknown; quarto?: { engines?: unknown } }): Language[] {
  const out = new Set<Language>();
  if (R_MODES.includes(mode)) out.add('r');
  if (PYTHON_MODES.includes(mode)) out.add('python');
  if (mode === 'quarto-static' || mode === 'quarto-shiny') {
    const engines = Array.isArray(manifest.quarto?.engines) ? (manifest.quarto.engines as unknown[]) : [];
    if (engines.includes('knitr') || manifest.platform !== undefined) out.add('r');
    if (engines.includes('jupyter')) out.add('python');
  }
  if (manifest.python !== undefined && (R_MODES.includes(mode) || mode.startsWith('quarto'))) out.add('python');
  return [...out].sort();
}

/**
 * The library's key: one per environment, interpreter and lock contents, so a redeploy with the
 * same lock reuses the library and any change gets a fresh one.
 */
export function libraryKey(parts: { environmentGuid: string; python: string | null; r: string | null; pythonLock: string | null; rLock: string | null }): string {
  const h = createHash('sha256').update(JSON.stringify([parts.environmentGuid, parts.python, parts.r, parts.pythonLock, parts.rLock])).digest('hex');
  return `lib-${h.slice(0, 32)}`;
}

// --- the scripts ----------------------------------------------------------------------------------

const WORK = JOB_PATHS.work;
const APP = `${WORK}/app`;
const LIB = JOB_PATHS.library;
const OUT = JOB_PATHS.output;

function preamble(s: ExecSpec): string[] {
  return [
    'set -eu',
    `say() { printf '%s\\n' "$*"; }`,
    `export HOME=${WORK}/home TMPDIR=${WORK}/tmp`,
    `mkdir -p "$HOME" "$TMPDIR" ${APP}`,
    `cp -R ${JOB_PATHS.bundle}/. ${APP}/`,
    `cd ${APP}`,
    // The interpreters: the library's venv when the build made one, else the environment's own.
    ...(s.python ? [`PY=${sh(s.python)}`, `if [ -x ${LIB}/python/bin/python ]; then PY=${LIB}/python/bin/python; fi`] : []),
    ...(s.r ? [`R=${sh(s.r)}`, `if [ -d ${LIB}/R ]; then export R_LIBS=${LIB}/R; fi`] : []),
    ...(s.quarto ? [`QUARTO=${sh(s.quarto)}`] : []),
    ...(s.quarto && s.python ? ['export QUARTO_PYTHON="$PY"'] : []),
    ...(s.quarto && s.r ? ['export QUARTO_R="$R"'] : []),
  ];
}

function pipArgs(src: PackageSources): string {
  const args = ['--no-input', '--disable-pip-version-check', '--no-cache-dir', '--progress-bar', 'off'];
  if (src.python_no_index) args.push('--no-index');
  else if (src.python_index_url) args.push('--index-url', src.python_index_url);
  for (const f of src.python_find_links) args.push('--find-links', f);
  return args.map(sh).join(' ');
}

function describePythonSources(src: PackageSources): string {
  const where = [
    ...(src.python_no_index ? [] : [src.python_index_url ? `index ${src.python_index_url}` : "pip's default index (no Python index is set in Settings → Package sources)"]),
    ...src.python_find_links.map((f) => `find-links ${f}`),
  ];
  return where.join(', ');
}

function pythonRestore(s: ExecSpec): string[] {
  const file = s.pythonPackageFile;
  return [
    `say ${sh(`Creating a Python virtual environment for the package library (${s.python}, with the image's packages) …`)}`,
    `${sh(s.python ?? 'python3')} -m venv --system-site-packages ${LIB}/python`,
    `if [ -f ${sh(file)} ]; then`,
    `  say ${sh(`Restoring Python packages from ${file} with pip, from ${describePythonSources(s.sources)} …`)}`,
    `  ${LIB}/python/bin/python -m pip install ${pipArgs(s.sources)} -r ${sh(file)}`,
    'else',
    `  say ${sh(`The bundle has no ${file}: only the image's Python packages are used.`)}`,
    'fi',
    'PY=' + `${LIB}/python/bin/python`,
  ];
}

function rRepos(src: PackageSources): string {
  if (!src.r_repositories.length) return 'character()';
  return `c(${src.r_repositories.map((r) => `${lit(r.name)} = ${lit(r.url)}`).join(', ')})`;
}

/** R code that restores into the library: renv::restore when renv.lock and renv are there, else install what is missing. */
function rRestoreProgram(s: ExecSpec): string {
  const pkgs = s.rPackages.map((p) => lit(p.name)).join(', ');
  const versions = s.rPackages.map((p) => lit(p.version ?? '')).join(', ');
  return [
    `lib <- ${lit(`${LIB}/R`)}`,
    `repos <- ${rRepos(s.sources)}`,
    'options(repos = repos)',
    '.libPaths(c(lib, .libPaths()))',
    `wanted <- c(${pkgs})`,
    `versions <- c(${versions})`,
    ...(s.hasRenvLock
      ? [
          "if (requireNamespace('renv', quietly = TRUE)) {",
          "  cat('Restoring R packages from renv.lock with renv', format(packageVersion('renv')), '…\\n')",
          "  if (!length(repos)) stop('No CRAN-like repository is set (Settings → Package sources): renv cannot download packages.')",
          "  renv::restore(lockfile = 'renv.lock', library = lib, repos = repos, prompt = FALSE, clean = FALSE)",
          '  quit(save = "no", status = 0)',
          '}',
          "cat('The image has no renv: installing the packages renv.lock names that the image lacks.\\n')",
        ]
      : []),
    "have <- vapply(wanted, function(p) nzchar(system.file(package = p)), logical(1))",
    'for (i in which(have & nzchar(versions))) {',
    '  v <- format(packageVersion(wanted[i]))',
    "  if (v != versions[i]) cat(sprintf('%s: the image has %s, the bundle was made with %s.\\n', wanted[i], v, versions[i]))",
    '}',
    'missing <- wanted[!have]',
    'if (!length(missing)) {',
    "  cat(sprintf('All %d R packages the bundle needs are in the image.\\n', length(wanted)))",
    '} else {',
    "  cat(sprintf('Installing %d R package(s) the image lacks (%s) from %s …\\n', length(missing), paste(missing, collapse = ', '), if (length(repos)) paste(repos, collapse = ', ') else 'nowhere'))",
    "  if (!length(repos)) stop(sprintf('R packages missing from the image (%s) and no CRAN-like repository is set (Settings → Package sources).', paste(missing, collapse = ', ')))",
    "  install.packages(missing, lib = lib, repos = repos, type = 'source', dependencies = c('Depends', 'Imports', 'LinkingTo'))",
    "  still <- missing[!vapply(missing, function(p) nzchar(system.file(package = p, lib.loc = c(lib, .libPaths()))), logical(1))]",
    "  if (length(still)) stop(sprintf('Could not install %s (see the messages above).', paste(still, collapse = ', ')))",
    '}',
  ].join('\n');
}

function rRestore(s: ExecSpec): string[] {
  return [
    `mkdir -p ${LIB}/R`,
    `say ${sh(s.hasRenvLock ? 'Restoring R packages from renv.lock …' : `Checking the ${s.rPackages.length} R package(s) the manifest lists …`)}`,
    `cat > ${WORK}/restore.R <<'OFFHOST_R'`,
    rRestoreProgram(s),
    'OFFHOST_R',
    `"$R" --no-save --no-restore --no-echo -f ${WORK}/restore.R`,
    `export R_LIBS=${LIB}/R`,
  ];
}

function buildScript(s: ExecSpec): string[] {
  const langs = s.languages;
  if (!langs.length) return [`say ${sh(`Nothing to restore for ${s.mode} content.`)}`];
  const reuse = [
    `if [ -f ${LIB}/${READY_MARKER} ]; then`,
    `  say "Reusing the package library ${s.libraryKey} (restored $(cat ${LIB}/${READY_MARKER})); nothing to restore."`,
    '  exit 0',
    'fi',
  ];
  const lock = `${LIB}/${RESTORE_LOCK}`;
  return [
    ...reuse,
    // One restore per library at a time: two deploys of the same lock may build at once. mkdir is
    // atomic; a lock older than the build deadline is what a killed pod left.
    'WAITED=',
    `while ! mkdir ${lock} 2>/dev/null; do`,
    `  if [ -n "$(find ${lock} -maxdepth 0 -mmin +${STALE_LOCK_MINUTES} 2>/dev/null)" ]; then say 'Removing a stale restore lock.'; rmdir ${lock} 2>/dev/null || true; continue; fi`,
    `  if [ -z "$WAITED" ]; then say 'Another build is restoring this package library; waiting for it …'; WAITED=1; fi`,
    '  sleep 2',
    'done',
    `trap 'rmdir ${lock} 2>/dev/null || true' EXIT`,
    ...reuse,
    // A library without its marker is what a failed or interrupted restore left: start again.
    `rm -rf ${LIB}/python ${LIB}/R`,
    ...(langs.includes('python') ? pythonRestore(s) : []),
    ...(langs.includes('r') ? rRestore(s) : []),
    `date -u +%Y-%m-%dT%H:%M:%SZ > ${LIB}/${READY_MARKER}`,
    `say ${sh(`Package library ${s.libraryKey} is ready.`)}`,
  ];
}

/** "main:app" -> {module: main, object: app}; "app.py" -> {module: app, object: fallback}; null if not a module. */
export function pythonTarget(entrypoint: string | null, fallbackModule: string, fallbackObject: string): { module: string; object: string } | null {
  const e = (entrypoint ?? '').trim() || fallbackModule;
  const [mod, obj] = e.includes(':') ? e.split(':', 2) : [e, fallbackObject];
  const module = mod!.replace(/\.py$/, '').replace(/\//g, '.');
  const object = obj || fallbackObject;
  if (!/^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$/.test(module) || !/^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*(\(\))?$/.test(object)) return null;
  return { module, object };
}

/** A file entrypoint (streamlit, bokeh, panel, gradio, voila, R documents), or the first file matching `pattern` at run time. */
function fileTarget(s: ExecSpec, pattern: string, preferred: string[]): string[] {
  const named = s.entrypoint && !s.entrypoint.includes(':') ? s.entrypoint : s.primaryDocument;
  if (named) return [`ENTRY=${sh(named)}`];
  return [
    'ENTRY=',
    `for f in ${preferred.map(sh).join(' ')}; do if [ -f "$f" ]; then ENTRY=$f; break; fi; done`,
    `if [ -z "$ENTRY" ]; then for f in ${pattern}; do if [ -f "$f" ]; then ENTRY=$f; break; fi; done; fi`,
    `if [ -z "$ENTRY" ]; then say ${sh(`No entrypoint: the manifest names none and the bundle has no ${preferred.join(' or ')} (nor any ${pattern}).`)} >&2; exit 2; fi`,
  ];
}

/** Python program: load module:object and call its run method (Dash). */
function dashProgram(t: { module: string; object: string }): string {
  return [
    'import importlib, sys',
    "sys.path.insert(0, '.')",
    `app = getattr(importlib.import_module(${lit(t.module)}), ${lit(t.object)})`,
    "run = getattr(app, 'run', None) or app.run_server",
    `run(host='0.0.0.0', port=${APP_PORT}, debug=False)`,
  ].join('\n');
}

/** Python program: serve a WSGI app with the standard library, one thread per request. */
function wsgiProgram(t: { module: string; object: string }): string {
  return [
    'import importlib, socketserver, sys',
    'from wsgiref.simple_server import WSGIServer, make_server',
    "sys.path.insert(0, '.')",
    `app = getattr(importlib.import_module(${lit(t.module)}), ${lit(t.object)})`,
    'class Server(socketserver.ThreadingMixIn, WSGIServer):',
    '    daemon_threads = True',
    `print('Serving on 0.0.0.0:${APP_PORT} with wsgiref (install gunicorn in the image for a production server)', flush=True)`,
    `make_server('0.0.0.0', ${APP_PORT}, app, server_class=Server).serve_forever()`,
  ].join('\n');
}

function rRun(code: string): string {
  return `exec "$R" --no-save --no-restore --no-echo -e ${sh(code)}`;
}

const HOST = '0.0.0.0';

function runScript(s: ExecSpec): string[] | { reason: string; message: string } {
  const m = s.mode;
  const badEntry = { reason: 'InvalidEntrypoint', message: `The manifest's entrypoint ${JSON.stringify(s.entrypoint)} is not a Python module ("module" or "module:object") or a .py file.` };
  switch (m) {
    case 'python-fastapi': {
      const t = pythonTarget(s.entrypoint, 'app', 'app');
      if (!t) return badEntry;
      return [`say ${sh(`Starting ${t.module}:${t.object} with uvicorn on ${HOST}:${APP_PORT} …`)}`, `exec "$PY" -m uvicorn ${sh(`${t.module}:${t.object}`)} --host ${HOST} --port ${APP_PORT} --proxy-headers --forwarded-allow-ips '*'`];
    }
    case 'python-api': {
      const t = pythonTarget(s.entrypoint, 'app', 'app');
      if (!t) return badEntry;
      return [
        'if "$PY" -c "import gunicorn" 2>/dev/null; then',
        `  say ${sh(`Starting ${t.module}:${t.object} with gunicorn on ${HOST}:${APP_PORT} …`)}`,
        `  exec "$PY" -m gunicorn --bind ${HOST}:${APP_PORT} --access-logfile - ${sh(`${t.module}:${t.object}`)}`,
        'fi',
        `say ${sh(`Starting ${t.module}:${t.object} (WSGI) on ${HOST}:${APP_PORT} …`)}`,
        `exec "$PY" -c ${sh(wsgiProgram(t))}`,
      ];
    }
    case 'python-dash': {
      const t = pythonTarget(s.entrypoint, 'app', 'app');
      if (!t) return badEntry;
      return [`say ${sh(`Starting the Dash app ${t.module}:${t.object} on ${HOST}:${APP_PORT} …`)}`, `exec "$PY" -c ${sh(dashProgram(t))}`];
    }
    case 'python-shiny': {
      const t = pythonTarget(s.entrypoint, 'app', 'app');
      if (!t) return badEntry;
      return [`say ${sh(`Starting the Shiny for Python app ${t.module}:${t.object} on ${HOST}:${APP_PORT} …`)}`, `exec "$PY" -m shiny run --host ${HOST} --port ${APP_PORT} ${sh(`${t.module}:${t.object}`)}`];
    }
    case 'python-streamlit':
      return [
        ...fileTarget(s, '*.py', ['app.py', 'streamlit_app.py']),
        `say "Starting the Streamlit app $ENTRY on ${HOST}:${APP_PORT} …"`,
        `exec "$PY" -m streamlit run "$ENTRY" --server.port ${APP_PORT} --server.address ${HOST} --server.headless true --browser.gatherUsageStats false`,
      ];
    case 'python-bokeh':
      return [
        ...fileTarget(s, '*.py', ['app.py', 'main.py']),
        `say "Starting the Bokeh app $ENTRY on ${HOST}:${APP_PORT} …"`,
        `exec "$PY" -m bokeh serve "$ENTRY" --port ${APP_PORT} --address ${HOST} --allow-websocket-origin '*'`,
      ];
    case 'python-panel':
      return [
        ...fileTarget(s, '*.py', ['app.py']),
        `say "Starting the Panel app $ENTRY on ${HOST}:${APP_PORT} …"`,
        `exec "$PY" -m panel serve "$ENTRY" --port ${APP_PORT} --address ${HOST} --allow-websocket-origin '*'`,
      ];
    case 'python-gradio':
      return [
        ...fileTarget(s, '*.py', ['app.py']),
        `say "Starting the Gradio app $ENTRY on ${HOST}:${APP_PORT} …"`,
        `export GRADIO_SERVER_NAME=${HOST} GRADIO_SERVER_PORT=${APP_PORT} GRADIO_ANALYTICS_ENABLED=False`,
        'exec "$PY" "$ENTRY"',
      ];
    case 'jupyter-voila':
      return [
        ...fileTarget(s, '*.ipynb', ['index.ipynb']),
        `say "Starting Voilà on $ENTRY at ${HOST}:${APP_PORT} …"`,
        `exec "$PY" -m voila "$ENTRY" --port=${APP_PORT} --Voila.ip=${HOST} --no-browser`,
      ];
    case 'shiny':
      return [`say ${sh(`Starting the Shiny app on ${HOST}:${APP_PORT} …`)}`, rRun(`shiny::runApp('.', host = '${HOST}', port = ${APP_PORT}L, launch.browser = FALSE)`)];
    case 'rmd-shiny':
      return [
        ...fileTarget(s, '*.Rmd', ['index.Rmd']),
        'export ENTRY',
        `say "Starting the Shiny document $ENTRY on ${HOST}:${APP_PORT} …"`,
        `exec "$R" --no-save --no-restore --no-echo -e "rmarkdown::run(Sys.getenv('ENTRY'), shiny_args = list(host = '${HOST}', port = ${APP_PORT}L, launch.browser = FALSE))"`,
      ];
    case 'api': {
      const named = s.entrypoint && /\.R$/i.test(s.entrypoint) ? s.entrypoint : null;
      const plumb = named ? `plumber::plumb(file = ${lit(named)})` : "plumber::plumb(dir = '.')";
      return [`say ${sh(`Starting the Plumber API ${named ?? '(entrypoint.R or plumber.R)'} on ${HOST}:${APP_PORT} …`)}`, rRun(`${plumb}$run(host = '${HOST}', port = ${APP_PORT}L)`)];
    }
    case 'quarto-shiny':
      return [
        ...fileTarget(s, '*.qmd', ['index.qmd']),
        `say "Serving the Quarto document $ENTRY on ${HOST}:${APP_PORT} …"`,
        `exec "$QUARTO" serve "$ENTRY" --port ${APP_PORT} --host ${HOST} --no-browser`,
      ];
    case 'tensorflow-saved-model':
      return { reason: 'UnsupportedAppMode', message: 'Offhost cannot serve TensorFlow saved models yet.' };
    case 'nodejs':
      return { reason: 'UnsupportedAppMode', message: 'Offhost cannot run Node.js content yet.' };
    case 'unknown':
      return { reason: 'UnsupportedAppMode', message: 'The content has no app mode (it was never deployed).' };
    case 'rmd-static':
    case 'jupyter-static':
    case 'quarto-static':
    case 'static':
      return { reason: 'NotAnApp', message: `${m} content is rendered, not run.` };
  }
}

/** After a render: the front page is index.html (a copy of the primary document's HTML). */
function frontPage(): string[] {
  return [
    'BASE=${ENTRY##*/}',
    'BASE=${BASE%.*}',
    `if [ ! -e ${OUT}/index.html ] && [ -f "${OUT}/$BASE.html" ]; then cp "${OUT}/$BASE.html" ${OUT}/index.html; fi`,
    `say "Rendered into the job's output: $(cd ${OUT} && ls | head -20 | tr '\\n' ' ')"`,
  ];
}

function renderScript(s: ExecSpec): string[] | { reason: string; message: string } {
  const m = s.mode;
  switch (m) {
    case 'rmd-static':
      return [
        ...fileTarget(s, '*.Rmd', ['index.Rmd']),
        'export ENTRY',
        'say "Rendering $ENTRY with rmarkdown::render …"',
        `"$R" --no-save --no-restore --no-echo -e "rmarkdown::render(Sys.getenv('ENTRY'), output_dir = '${OUT}', envir = new.env())"`,
        ...frontPage(),
      ];
    case 'jupyter-static': {
      const hide = [...(s.hideAllInput ? ['--no-input'] : []), ...(s.hideTaggedInput ? ['--TagRemovePreprocessor.remove_input_tags=hide_input'] : [])].join(' ');
      return [
        ...fileTarget(s, '*.ipynb', ['index.ipynb']),
        'say "Rendering $ENTRY with jupyter nbconvert (executing it) …"',
        `"$PY" -m nbconvert --to html --execute${hide ? ` ${hide}` : ''} --output-dir ${OUT} "$ENTRY"`,
        ...frontPage(),
      ];
    }
    case 'quarto-static':
      return [
        ...fileTarget(s, '*.qmd', ['index.qmd']),
        'if [ -f _quarto.yml ] || [ -f _quarto.yaml ]; then',
        `  say "Rendering the Quarto project with quarto render …"`,
        `  "$QUARTO" render --output-dir ${OUT}`,
        'else',
        '  say "Rendering $ENTRY with quarto render …"',
        `  "$QUARTO" render "$ENTRY" --output-dir ${OUT}`,
        'fi',
        ...frontPage(),
      ];
    case 'static':
      return ['say "Copying the static files into the job\'s output …"', `cp -R . ${OUT}/`, `say "Copied $(find ${OUT} -type f | wc -l) files."`];
    default:
      return { reason: 'NotADocument', message: `${m} content runs as an app or API; it is not rendered.` };
  }
}

/** What interpreter a job needs, and the message when the environment has none. */
function missingRuntime(s: ExecSpec): { reason: string; message: string } | undefined {
  if (s.kind === 'build' && s.mode === 'static') return undefined;
  const need = (lang: Language) => s.languages.includes(lang);
  if (need('python') && !s.python) return { reason: 'NoRuntime', message: `${s.mode} content needs Python, and the environment has no Python installation.` };
  if (need('r') && !s.r) return { reason: 'NoRuntime', message: `${s.mode} content needs R, and the environment has no R installation.` };
  if ((s.mode === 'quarto-static' || s.mode === 'quarto-shiny') && s.kind !== 'build' && !s.quarto)
    return { reason: 'NoRuntime', message: `${s.mode} content needs Quarto, and the environment has no Quarto installation.` };
  return undefined;
}

/** The job's container command (sh -c script, wrapped by the supervisor when the environment has one). */
export function jobCommand(s: ExecSpec): JobCommand {
  const missing = missingRuntime(s);
  if (missing) return { ok: false, ...missing };
  let body: string[] | { reason: string; message: string };
  if (s.kind === 'build') body = buildScript(s);
  else if (s.kind === 'render') body = isRendered(s.mode) ? renderScript(s) : { reason: 'NotADocument', message: `${s.mode} content runs as an app or API; it is not rendered.` };
  else body = runScript(s);
  if (!Array.isArray(body)) return { ok: false, ...body };
  const script = [...preamble(s), ...body].join('\n') + '\n';
  // The supervisor gets the job's whole command line as its arguments.
  const command = s.supervisor ? ['sh', '-c', `exec ${s.supervisor} /bin/sh -c "$1"`, 'offhost-supervised', script] : ['sh', '-c', script];
  return { ok: true, command, script };
}
