// Worker-thread entry: parse and validate large environments YAML away from the main event loop,
// and post back each result or the AppError's body. Bundled on its own (self-contained CJS)
// as dist/main/environments-worker.cjs by build/bundle-main.mjs.
import { parentPort } from 'node:worker_threads';
import { AppError } from '../../shared/errors';
import { parseEnvironmentsYaml } from './yaml';

export type WorkerReply =
  | { ok: true; result: ReturnType<typeof parseEnvironmentsYaml> }
  | { ok: false; error: ReturnType<AppError['toBody']> }
  | { ok: false; internal: string };

function run(text: string): WorkerReply {
  try {
    return { ok: true, result: parseEnvironmentsYaml(text) };
  } catch (e) {
    if (e instanceof AppError) return { ok: false, error: { ...e.toBody(), ...(e.details ? { details: e.details } : {}) } };
    return { ok: false, internal: e instanceof Error ? (e.stack ?? e.message) : String(e) };
  }
}

// One worker serves many requests in turn (it stays warm: its compiled parser is reused).
parentPort!.on('message', ({ id, text }: { id: number; text: string }) => parentPort!.postMessage({ id, reply: run(text) }));
