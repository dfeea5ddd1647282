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

/** How long an idle worker is kept (warm) for the next large text before it is stopped. */
const IDLE_MS = 30_000;

interface Job {
  id: number;
  text: string;
  timeoutMs: number;
  resolve(result: ParsedEnvironments): void;
  reject(error: Error): void;
}

/**
 * One worker thread per worker file, started on first use and kept while there is work (and
 * IDLE_MS after), so later large texts skip the start-up (~100 ms) and run on a warmed-up parser.
 * Texts are parsed one at a time. A worker that times out, runs out of memory or dies is stopped;
 * its job fails, and the next job starts a fresh one.
 */
class ParserThread {
  private worker: Worker | undefined;
  private readonly queue: Job[] = [];
  private current: { job: Job; timer: NodeJS.Timeout } | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private nextId = 1;

  constructor(private readonly entry: { file: string; eval: boolean }) {}

  parse(text: string, timeoutMs: number): Promise<ParsedEnvironments> {
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, text, timeoutMs, resolve, reject });
      this.pump();
    });
  }

  private start(): Worker {
    const worker = new Worker(this.entry.file, { eval: this.entry.eval, resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB } });
    worker.on('message', ({ id, reply }: { id: number; reply: WorkerReply }) => {
      const current = this.current;
      if (!current || current.job.id !== id) return;
      this.finish(() => {
        if (reply.ok) current.job.resolve(reply.result);
        else if ('error' in reply) current.job.reject(AppError.fromBody(reply.error));
        else current.job.reject(new Error(`The YAML parser failed: ${reply.internal}`));
      });
    });
    worker.on('error', (e: Error & { code?: string }) => this.fail(worker, this.describe(e)));
    worker.on('exit', (code) => this.fail(worker, new Error(`The YAML parser worker stopped (exit code ${code}) without an answer.`)));
    return worker;
  }

  private describe(e: Error & { code?: string }): Error {
    if (e.code === 'ERR_WORKER_OUT_OF_MEMORY')
      return new AppError('LimitExceeded', `Reading the YAML needed more than ${WORKER_HEAP_MB} MB of memory; split it into smaller files.`, 'yaml');
    return new Error(`Could not run the YAML parser worker (${this.entry.eval ? 'from the sources' : this.entry.file}): ${e.message}`);
  }

  /** The worker is gone or must go: fail the job it had, and start afresh for the next. */
  private fail(worker: Worker, error: Error): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    void worker.terminate();
    const current = this.current;
    if (current) this.finish(() => current.job.reject(error));
    else this.pump();
  }

  private finish(settle: () => void): void {
    clearTimeout(this.current?.timer);
    this.current = undefined;
    settle();
    this.pump();
  }

  private pump(): void {
    if (this.current) return;
    const job = this.queue.shift();
    if (!job) {
      // Idle: do not keep the process alive for this worker, and stop it after a while.
      this.worker?.unref();
      clearTimeout(this.idleTimer);
      this.idleTimer = setTimeout(() => {
        const idle = this.worker;
        this.worker = undefined;
        void idle?.terminate();
      }, IDLE_MS).unref();
      return;
    }
    clearTimeout(this.idleTimer);
    this.worker ??= this.start();
    this.worker.ref();
    const worker = this.worker;
    const timer = setTimeout(
      () => this.fail(worker, new AppError('LimitExceeded', `Reading the YAML took longer than ${Math.round(job.timeoutMs / 1000)} s; split it into smaller files.`, 'yaml')),
      job.timeoutMs,
    );
    this.current = { job, timer };
    worker.postMessage({ id: job.id, text: job.text });
  }
}

const threads = new Map<string, ParserThread>();
function threadFor(workerFile: string | undefined): ParserThread {
  const entry = workerFile ? { file: workerFile, eval: false } : workerEntry(import.meta.url);
  let thread = threads.get(entry.file);
  if (!thread) threads.set(entry.file, (thread = new ParserThread(entry)));
  return thread;
}

/** parseEnvironmentsYaml, off the calling thread when the text is large. */
export async function parseEnvironmentsYamlOffThread(text: string, options: OffThreadOptions = {}): Promise<ParsedEnvironments> {
  const bytes = Buffer.byteLength(text, 'utf8');
  // Small texts, and oversized ones (refused at once, before any copy to a worker), stay here.
  if (bytes > LIMITS.yamlBytes || bytes <= (options.inlineMaxBytes ?? DEFAULT_INLINE_MAX_BYTES)) return parseEnvironmentsYaml(text);
  return threadFor(options.workerFile).parse(text, options.timeoutMs ?? 60_000);
}
