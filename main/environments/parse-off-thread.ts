// Parses large environments YAML in a worker thread, so a megabyte import or file does not stall
// every other request (the yaml package reads about 1 MB a second here; validation adds more).
// Small texts are parsed in place: starting a worker costs more than they do.
//
// Where the worker's code is: in the esbuild bundle (dist/main/*.js, also inside Electron's asar,
// which worker threads can read since Electron 17.3) it is dist/main/environments-worker.cjs, one
// self-contained CommonJS file; from the TypeScript sources (tsx, vitest) it is parse-worker.ts,
// loaded through tsx's API, which the source tree has as a dev dependency.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { AppError } from '../../shared/errors';
import { LIMITS } from '../../shared/environment';
import type { WorkerReply } from './parse-worker';
import { parseEnvironmentsYaml, type ParsedEnvironments } from './yaml';

export interface OffThreadOptions {
  /** Texts up to this many bytes are parsed on the calling thread (default 32 KiB, ~30 ms of work). */
  inlineMaxBytes?: number;
  /** A worker that has not answered after this long is stopped (default 60 s). */
  timeoutMs?: number;
  /** A built environments-worker.cjs to run instead of the one found by workerEntry() (the bench
   *  uses the bundle's, to measure what ships rather than tsx compiling the sources). */
  workerFile?: string;
}

export const DEFAULT_INLINE_MAX_BYTES = 32 * 1024;
/** Heap for one worker: ample for LIMITS.yamlBytes of YAML, and a backstop if a limit is missed. */
const WORKER_HEAP_MB = 512;
/** Two cores are common; more parallel parses would only compete with each other. */
const MAX_WORKERS = 2;

export const BUNDLED_WORKER_FILE = 'environments-worker.cjs';

/** How to start the worker for a module at `moduleUrl` (exported for its unit test). */
export function workerEntry(moduleUrl: string): { file: string; eval: boolean } {
  if (!moduleUrl.endsWith('.ts')) return { file: fileURLToPath(new URL(`./${BUNDLED_WORKER_FILE}`, moduleUrl)), eval: false };
  // Source tree: a worker thread does not inherit tsx's loader, so the worker registers it itself.
  const require = createRequire(moduleUrl);
  const pkgFile = require.resolve('tsx/package.json');
  const pkg = JSON.parse(fs.readFileSync(pkgFile, 'utf8')) as { exports: Record<string, { import: { default: string } }> };
  const api = new URL(pkg.exports['./esm/api']!.import.default, pathToFileURL(pkgFile)).href;
  const entry = new URL('./parse-worker.ts', moduleUrl).href;
  return { file: `import(${JSON.stringify(api)}).then(({ tsImport }) => tsImport(${JSON.stringify(entry)}, ${JSON.stringify(moduleUrl)}))`, eval: true };
}

let running = 0;
const waiting: (() => void)[] = [];
async function slot(): Promise<() => void> {
  if (running >= MAX_WORKERS) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  return () => {
    running--;
    waiting.shift()?.();
  };
}

function inWorker(text: string, timeoutMs: number, workerFile: string | undefined): Promise<ParsedEnvironments> {
  const entry = workerFile ? { file: workerFile, eval: false } : workerEntry(import.meta.url);
  return new Promise((resolve, reject) => {
    const worker = new Worker(entry.file, { eval: entry.eval, workerData: { text }, resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB } });
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void worker.terminate();
      fn();
    };
    const timer = setTimeout(
      () => finish(() => reject(new AppError('LimitExceeded', `Reading the YAML took longer than ${Math.round(timeoutMs / 1000)} s; split it into smaller files.`, 'yaml'))),
      timeoutMs,
    );
    worker.once('message', (reply: WorkerReply) =>
      finish(() => {
        if (reply.ok) resolve(reply.result);
        else if ('error' in reply) reject(AppError.fromBody(reply.error));
        else reject(new Error(`The YAML parser failed: ${reply.internal}`));
      }),
    );
    worker.once('error', (e: Error & { code?: string }) =>
      finish(() =>
        reject(
          e.code === 'ERR_WORKER_OUT_OF_MEMORY'
            ? new AppError('LimitExceeded', `Reading the YAML needed more than ${WORKER_HEAP_MB} MB of memory; split it into smaller files.`, 'yaml')
            : new Error(`Could not run the YAML parser worker (${entry.eval ? 'from the sources' : entry.file}): ${e.message}`),
        ),
      ),
    );
    worker.once('exit', (code) => finish(() => reject(new Error(`The YAML parser worker exited (code ${code}) without an answer.`))));
  });
}

/** parseEnvironmentsYaml, off the calling thread when the text is large. */
export async function parseEnvironmentsYamlOffThread(text: string, options: OffThreadOptions = {}): Promise<ParsedEnvironments> {
  // Refuse an oversized text here: copying it to a worker would already cost.
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > LIMITS.yamlBytes) return parseEnvironmentsYaml(text);
  if (bytes <= (options.inlineMaxBytes ?? DEFAULT_INLINE_MAX_BYTES)) return parseEnvironmentsYaml(text);
  const release = await slot();
  try {
    return await inWorker(text, options.timeoutMs ?? 60_000, options.workerFile);
  } finally {
    release();
  }
}
