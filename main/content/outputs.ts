// What documents and static sites serve, kept in the server's data directory:
//   <dataDir>/outputs/<content guid>/<job id>/   a render job's output, fetched from the content
//                                               volume once the job succeeded (copied mode: through
//                                               the store pod; mounted: straight off the volume)
//   <dataDir>/static/<sha256>/                  a static bundle's files, extracted once
// The content's current output is its newest succeeded render job for the active bundle; it is
// fetched as soon as the job succeeds, and again on the first request if that fetch was missed
// (another instance, a restart). A `.complete` file marks a finished copy; copies go to a
// temporary directory first, so a request never sees half an output.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { AppError } from '../../shared/errors';
import type { EventBus } from '../events';
import type { Logger } from '../log';
import type { BundleRecord } from '../store/bundles-repo';
import { contentRepo, type ContentRecord } from '../store/content-repo';
import type { Store } from '../store/db';
import { jobsRepo, type JobRecord } from '../store/jobs-repo';
import { extractTarSafely } from './safe-extract';
import type { ContentVolume } from './volume';

const COMPLETE = '.complete';
/** Outputs kept per content item (the newest); older ones are removed after a new one arrives. */
const KEEP_OUTPUTS = 2;

export interface ContentOutputsDeps {
  dataDir: string;
  store: Store;
  events: EventBus;
  log: Logger;
  volume: () => ContentVolume | undefined;
  /** The archive of a stored bundle (BundleStore.pathOf). */
  archiveOf: (sha256: string) => string;
}

export class ContentOutputs {
  readonly outputsRoot: string;
  readonly staticRoot: string;
  private readonly fetching = new Map<number, Promise<string>>();
  private readonly extracting = new Map<string, Promise<string>>();
  private off: (() => void) | undefined;

  constructor(private readonly deps: ContentOutputsDeps) {
    this.outputsRoot = path.join(deps.dataDir, 'outputs');
    this.staticRoot = path.join(deps.dataDir, 'static');
  }

  /** Fetch each render job's output as soon as it succeeds. */
  start(): void {
    this.off = this.deps.events.on('jobs.changed', (p) => {
      if (p.state !== 'succeeded') return;
      void this.onSucceeded(p.content_guid, p.key).catch((e: Error) =>
        this.deps.log.warn({ content: p.content_guid, job: p.key, err: { message: e.message } }, 'outputs: cannot fetch a render output now; the first request will try again'),
      );
    });
  }

  stop(): void {
    this.off?.();
  }

  private async onSucceeded(guid: string, key: string): Promise<void> {
    const content = await contentRepo.get(this.deps.store.db, guid);
    if (!content) return;
    const job = await jobsRepo.getByKey(this.deps.store.db, content.id, key);
    if (job?.kind !== 'render' || job.state !== 'succeeded') return;
    await this.fetch(content, job);
  }

  dirOf(guid: string, jobId: number): string {
    if (!/^[0-9a-f-]{36}$/.test(guid) || !Number.isSafeInteger(jobId)) throw new Error('bad output address');
    return path.join(this.outputsRoot, guid, String(jobId));
  }

  /**
   * The directory holding the current output of `bundleId` (the newest succeeded render of it),
   * fetched now if it is not here yet; null when no render of it has succeeded.
   */
  async current(content: ContentRecord, bundleId: number): Promise<{ dir: string; job: JobRecord } | null> {
    const renders = (await jobsRepo.listForContent(this.deps.store.db, content.id)).filter((j) => j.kind === 'render' && j.bundle_id === bundleId && j.state === 'succeeded');
    const job = renders[0];
    if (!job) return null;
    return { dir: await this.fetch(content, job), job };
  }

  /** Copy a succeeded render job's output here (once; concurrent callers share the copy). */
  async fetch(content: ContentRecord, job: JobRecord): Promise<string> {
    const dir = this.dirOf(content.guid, job.id);
    if (fs.existsSync(path.join(dir, COMPLETE))) return dir;
    let p = this.fetching.get(job.id);
    if (!p) {
      p = this.copy(content, job, dir).finally(() => this.fetching.delete(job.id));
      this.fetching.set(job.id, p);
    }
    return p;
  }

  private async copy(content: ContentRecord, job: JobRecord, dir: string): Promise<string> {
    const volume = this.deps.volume();
    if (!volume) throw new AppError('Unavailable', `The output of "${content.name}" is on the content volume, and no content volume is configured (OFFHOST_CONTENT_CLAIM).`);
    const parent = path.dirname(dir);
    await fs.promises.mkdir(parent, { recursive: true });
    const tmp = path.join(parent, `.tmp-${job.id}-${randomBytes(6).toString('hex')}`);
    const t0 = Date.now();
    try {
      await volume.fetchOutput(job.id, tmp);
      await fs.promises.writeFile(path.join(tmp, COMPLETE), '');
      await fs.promises.rename(tmp, dir).catch(async (e: NodeJS.ErrnoException) => {
        if ((e.code === 'ENOTEMPTY' || e.code === 'EEXIST') && fs.existsSync(path.join(dir, COMPLETE))) return; // another copy won
        throw e;
      });
    } catch (e) {
      await fs.promises.rm(tmp, { recursive: true, force: true });
      if (e instanceof AppError) throw e;
      throw new AppError('Unavailable', `The output of "${content.name}" (render job ${job.key}) cannot be fetched: ${(e as Error).message}`);
    } finally {
      await fs.promises.rm(tmp, { recursive: true, force: true });
    }
    this.deps.log.info({ content: content.guid, job: job.id, ms: Date.now() - t0, mode: volume.mode }, 'outputs: fetched a render output');
    await this.prune(content.guid);
    return dir;
  }

  /** Keep the newest outputs of a content item. */
  private async prune(guid: string): Promise<void> {
    const root = path.join(this.outputsRoot, guid);
    const ids = (await fs.promises.readdir(root).catch(() => [] as string[])).filter((n) => /^\d+$/.test(n)).map(Number).sort((a, b) => b - a);
    for (const id of ids.slice(KEEP_OUTPUTS)) await fs.promises.rm(path.join(root, String(id)), { recursive: true, force: true });
  }

  /** A static bundle's files, extracted here once (safely). */
  async staticSite(bundle: BundleRecord): Promise<string> {
    const dir = path.join(this.staticRoot, bundle.sha256);
    if (fs.existsSync(path.join(dir, COMPLETE))) return dir;
    let p = this.extracting.get(bundle.sha256);
    if (!p) {
      p = (async () => {
        await fs.promises.mkdir(this.staticRoot, { recursive: true });
        const tmp = path.join(this.staticRoot, `.tmp-${bundle.sha256}-${randomBytes(6).toString('hex')}`);
        try {
          await extractTarSafely(fs.createReadStream(this.deps.archiveOf(bundle.sha256)), tmp, { gzip: true });
          await fs.promises.writeFile(path.join(tmp, COMPLETE), '');
          await fs.promises.rename(tmp, dir).catch((e: NodeJS.ErrnoException) => {
            if (!fs.existsSync(path.join(dir, COMPLETE))) throw e;
          });
          return dir;
        } finally {
          await fs.promises.rm(tmp, { recursive: true, force: true });
        }
      })().finally(() => this.extracting.delete(bundle.sha256));
      this.extracting.set(bundle.sha256, p);
    }
    return p;
  }
}

/**
 * The page served at the content's root: the manifest's primary_html if the directory has it;
 * else the rendered name of primary_rmd / the entrypoint (report.Rmd → report.html); else
 * index.html; else the only top-level .html file. Null when none is there.
 */
export function indexPage(dir: string, manifest: Record<string, unknown>): string | null {
  const meta = (manifest.metadata ?? {}) as Record<string, unknown>;
  const has = (rel: string) => {
    try {
      return fs.statSync(path.join(dir, rel)).isFile();
    } catch {
      return false;
    }
  };
  const candidates: string[] = [];
  for (const f of ['primary_html']) if (typeof meta[f] === 'string') candidates.push(meta[f] as string);
  for (const f of ['primary_rmd', 'primary_document', 'entrypoint']) {
    const v = meta[f];
    if (typeof v === 'string' && v) {
      candidates.push(v.replace(/\.(Rmd|rmd|qmd|ipynb|md|Rmarkdown)$/, '.html'));
      candidates.push(path.posix.basename(v).replace(/\.(Rmd|rmd|qmd|ipynb|md|Rmarkdown)$/, '.html'));
    }
  }
  candidates.push('index.html');
  for (const c of candidates) {
    const rel = c.replace(/^\.?\/+/, '');
    if (rel && !rel.split('/').includes('..') && /\.html?$/i.test(rel) && has(rel)) return rel;
  }
  const html = fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && /\.html?$/i.test(e.name))
    .map((e) => e.name);
  return html.length === 1 ? html[0]! : null;
}
