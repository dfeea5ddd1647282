// Bundle archives on disk, stored once by content hash: <dataDir>/bundles/<ab>/<sha256>.tar.gz.
// An upload is streamed to .incoming/ while it is hashed and counted; it moves into place only
// after it validated, so a refused upload leaves nothing behind. Knows nothing of Kubernetes.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError } from '../../shared/errors';
import { describeBytes } from './bundle-archive';

/** An upload untouched this long was abandoned (no upload takes a day to arrive). */
const STALE_UPLOAD_MS = 24 * 3600 * 1000;

export interface Incoming {
  file: string;
  sha256: string;
  size: number;
}

export class BundleStore {
  readonly root: string;
  private readonly incoming: string;

  constructor(dataDir: string) {
    this.root = path.join(dataDir, 'bundles');
    this.incoming = path.join(this.root, '.incoming');
  }

  pathOf(sha256: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`not a sha256: ${sha256}`);
    return path.join(this.root, sha256.slice(0, 2), `${sha256}.tar.gz`);
  }

  /** Stream an upload to a temporary file, hashing it; over `maxBytes` it stops and is removed. */
  async receive(source: Readable, maxBytes: number): Promise<Incoming> {
    await fs.promises.mkdir(this.incoming, { recursive: true });
    await this.pruneIncoming();
    const file = path.join(this.incoming, `${Date.now()}-${randomBytes(8).toString('hex')}.part`);
    const hash = createHash('sha256');
    let size = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
        size += chunk.length;
        if (size > maxBytes)
          return done(new AppError('BundleTooLarge', `The bundle is larger than ${describeBytes(maxBytes)}, the upload limit (OFFHOST_BUNDLE_MAX_BYTES).`));
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      await pipeline(source, meter, fs.createWriteStream(file, { flags: 'wx', mode: 0o600 }));
    } catch (e) {
      await fs.promises.rm(file, { force: true });
      throw e;
    }
    return { file, sha256: hash.digest('hex'), size };
  }

  /** Move a validated upload into place; the same archive uploaded twice is kept once. */
  async commit(incoming: Incoming): Promise<void> {
    const target = this.pathOf(incoming.sha256);
    await fs.promises.mkdir(path.dirname(target), { recursive: true });
    if (fs.existsSync(target)) {
      await fs.promises.rm(incoming.file, { force: true });
      return;
    }
    await fs.promises.chmod(incoming.file, 0o444);
    await fs.promises.rename(incoming.file, target);
  }

  /**
   * Remove uploads a crash left half-written. Only old ones: another instance sharing the data
   * directory may be receiving one right now.
   */
  async pruneIncoming(olderThanMs = STALE_UPLOAD_MS, now = Date.now()): Promise<string[]> {
    const removed: string[] = [];
    for (const name of await fs.promises.readdir(this.incoming).catch(() => [] as string[])) {
      const file = path.join(this.incoming, name);
      const stat = await fs.promises.stat(file).catch(() => undefined);
      if (stat && now - stat.mtimeMs > olderThanMs) {
        await fs.promises.rm(file, { force: true });
        removed.push(name);
      }
    }
    return removed;
  }

  async discard(incoming: Incoming): Promise<void> {
    await fs.promises.rm(incoming.file, { force: true });
  }

  async remove(sha256: string): Promise<void> {
    await fs.promises.rm(this.pathOf(sha256), { force: true });
  }

  /** Every stored archive and leftover upload, for tests and diagnostics. */
  listFiles(): string[] {
    const out: string[] = [];
    const walk = (dir: string) => {
      if (!fs.existsSync(dir)) return;
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else out.push(path.relative(this.root, p));
      }
    };
    walk(this.root);
    return out.sort();
  }
}
