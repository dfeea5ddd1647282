// The content volume in mounted mode (in-cluster): the server has the same PersistentVolumeClaim
// its job pods mount, at a local path (OFFHOST_CONTENT_VOLUME), and writes the layout directly.
// A bundle is extracted into a temporary directory beside its place and renamed into place, so a
// pod never sees half a bundle and an interrupted extraction leaves only a temporary directory
// (removed on the next attempt). Directories jobs write are made theirs (JOB_USER_ID).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describeBytes } from './bundle-archive';
import { extractTarSafely } from './safe-extract';
import { JOB_USER_ID, volumeLayout, type ContentVolume } from './volume';

/** Temporary extraction directories older than this were left by a crash. */
const STALE_TMP_MS = 3600 * 1000;

export class MountedContentVolume implements ContentVolume {
  readonly mode = 'mounted' as const;
  /** Running as root (a test, or a server that chose to): chown what jobs write. Else make it group/world writable. */
  private readonly canChown = process.getuid?.() === 0;

  constructor(
    /** The local path where the server mounts the claim. */
    readonly root: string,
    readonly claimName: string,
  ) {}

  async start(): Promise<void> {
    const st = await fs.promises.stat(this.root).catch(() => undefined);
    if (!st?.isDirectory())
      throw new Error(`OFFHOST_CONTENT_VOLUME is ${JSON.stringify(this.root)}, which is not a directory; mount the content claim (${this.claimName}) there`);
    await fs.promises.access(this.root, fs.constants.W_OK).catch(() => {
      throw new Error(`OFFHOST_CONTENT_VOLUME ${JSON.stringify(this.root)} is not writable by this server (uid ${process.getuid?.()}); give the claim's files to that user or run with its fsGroup`);
    });
    await fs.promises.mkdir(path.join(this.root, 'bundles'), { recursive: true });
    await this.pruneTemporaries();
  }

  async ensureBundle(sha256: string, archive: string, progress: (line: string) => void = () => {}): Promise<void> {
    const target = path.join(this.root, volumeLayout.bundle(sha256));
    const short = sha256.slice(0, 12);
    if (fs.existsSync(target)) {
      progress(`Bundle ${short} is already on the content volume.`);
      return;
    }
    const size = (await fs.promises.stat(archive)).size;
    progress(`Extracting bundle ${short} (${describeBytes(size)}) onto the content volume (claim ${this.claimName}) …`);
    const t0 = Date.now();
    const tmp = path.join(this.root, 'bundles', `.tmp-${sha256}-${randomBytes(6).toString('hex')}`);
    await fs.promises.mkdir(tmp, { mode: 0o755 });
    try {
      const { files, bytes, skipped } = await extractTarSafely(fs.createReadStream(archive), tmp, { gzip: true });
      if (skipped.length) progress(`Not extracted (links and special files are never written): ${skipped.slice(0, 10).join(', ')}${skipped.length > 10 ? ', …' : ''}.`);
      await fs.promises.chmod(tmp, 0o755);
      try {
        await fs.promises.rename(tmp, target);
      } catch (e) {
        // Another instance (or a retry) put it there first: theirs is the same bundle.
        const code = (e as NodeJS.ErrnoException).code;
        if ((code === 'ENOTEMPTY' || code === 'EEXIST') && fs.existsSync(target)) {
          progress(`Bundle ${short} is already on the content volume.`);
          return;
        }
        throw e;
      }
      progress(`Bundle ${short} extracted: ${files} file${files === 1 ? '' : 's'}, ${describeBytes(bytes)}, in ${((Date.now() - t0) / 1000).toFixed(1)} s.`);
    } finally {
      await fs.promises.rm(tmp, { recursive: true, force: true });
    }
  }

  async ensureWritable(dirs: string[]): Promise<void> {
    for (const rel of dirs) {
      const full = this.resolve(rel);
      // Every level we create is the job user's, so a job may make its own subdirectories.
      const parts = path.relative(this.root, full).split(path.sep);
      let p = this.root;
      for (const part of parts) {
        p = path.join(p, part);
        const made = await fs.promises.mkdir(p).then(
          () => true,
          (e: NodeJS.ErrnoException) => {
            if (e.code === 'EEXIST') return false;
            throw e;
          },
        );
        if (made || p === full) await this.giveToJobs(p);
      }
    }
  }

  async fetchOutput(jobId: number, dest: string): Promise<void> {
    const from = path.join(this.root, volumeLayout.output(jobId));
    if (!fs.existsSync(from)) throw new Error(`job ${jobId} left no output on the content volume (${volumeLayout.output(jobId)})`);
    await fs.promises.mkdir(dest, { recursive: true });
    await copyTree(from, dest);
  }

  /** A volume-relative path, checked to stay inside the volume. */
  private resolve(rel: string): string {
    const full = path.resolve(this.root, rel);
    if (full === this.root || !full.startsWith(this.root + path.sep)) throw new Error(`${JSON.stringify(rel)} is not a path inside the content volume`);
    return full;
  }

  private async giveToJobs(p: string): Promise<void> {
    if (this.canChown) {
      await fs.promises.chown(p, JOB_USER_ID, JOB_USER_ID);
      await fs.promises.chmod(p, 0o755);
    } else {
      const st = await fs.promises.stat(p);
      // Ours already if we run as the job user; otherwise jobs need the write bit.
      if (st.uid !== JOB_USER_ID) await fs.promises.chmod(p, 0o777);
    }
  }

  private async pruneTemporaries(now = Date.now()): Promise<void> {
    const dir = path.join(this.root, 'bundles');
    for (const name of await fs.promises.readdir(dir).catch(() => [] as string[])) {
      if (!name.startsWith('.tmp-')) continue;
      const st = await fs.promises.stat(path.join(dir, name)).catch(() => undefined);
      if (st && now - st.mtimeMs > STALE_TMP_MS) await fs.promises.rm(path.join(dir, name), { recursive: true, force: true });
    }
  }
}

/**
 * Copy what a job wrote. Jobs are not trusted: only regular files and directories are copied;
 * symbolic links (which could point anywhere on this server) and special files are skipped.
 */
export async function copyTree(from: string, to: string): Promise<{ files: number; skipped: string[] }> {
  let files = 0;
  const skipped: string[] = [];
  const walk = async (src: string, dst: string, rel: string): Promise<void> => {
    for (const e of await fs.promises.readdir(src, { withFileTypes: true })) {
      const s = path.join(src, e.name);
      const d = path.join(dst, e.name);
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        await fs.promises.mkdir(d, { recursive: true });
        await walk(s, d, r);
      } else if (e.isFile()) {
        await fs.promises.copyFile(s, d);
        files++;
      } else skipped.push(r);
    }
  };
  await walk(from, to, '');
  return { files, skipped };
}
