// Unpacks a tar stream that came from somewhere we do not trust — a render job's output read back
// from the store pod, a static bundle — into a local directory, so that nothing lands outside it:
// member names that are absolute or climb with "..", and links, are refused or skipped; only
// regular files and directories are written (a hard link to an earlier file becomes a copy);
// devices and FIFOs are skipped. Files are created with O_EXCL in a directory tree this function
// made itself (no symbolic link is ever created), so no path component can lead elsewhere.
// Limits on total bytes and members keep a hostile archive from filling the disk.
import fs from 'node:fs';
import path from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';

export interface ExtractLimits {
  /** Total bytes of the files written. */
  maxBytes: number;
  /** Members (files, directories, links). */
  maxEntries: number;
}

export const DEFAULT_EXTRACT_LIMITS: ExtractLimits = { maxBytes: 4 * 1024 ** 3, maxEntries: 200_000 };

export interface ExtractResult {
  files: number;
  bytes: number;
  /** Members not written, each with why (links, devices): shown to whoever asked for the copy. */
  skipped: string[];
}

export class UnsafeArchiveError extends Error {
  override name = 'UnsafeArchiveError';
}

/**
 * A member's name made relative and checked: "./a/b" → "a/b"; "" for the root itself. Throws
 * UnsafeArchiveError for absolute names, drive letters, NUL and any ".." segment.
 */
export function safeMemberPath(raw: string): string {
  if (raw.includes('\0')) throw new UnsafeArchiveError(`the member ${JSON.stringify(raw)} has a NUL character in its name`);
  if (raw.startsWith('/') || raw.startsWith('\\') || /^[A-Za-z]:/.test(raw)) throw new UnsafeArchiveError(`the member ${JSON.stringify(raw)} has an absolute path`);
  const parts = raw.split(/[\\/]+/).filter((s) => s !== '' && s !== '.');
  if (parts.includes('..')) throw new UnsafeArchiveError(`the member ${JSON.stringify(raw)} has ".." in its path`);
  return parts.join('/');
}

/** `dest` joined with a checked relative path, and checked again to be inside `dest`. */
function inside(dest: string, rel: string): string {
  const full = path.resolve(dest, ...rel.split('/'));
  if (full !== dest && !full.startsWith(dest + path.sep)) throw new UnsafeArchiveError(`the member ${JSON.stringify(rel)} would land outside ${dest}`);
  return full;
}

/**
 * Extract a tar (gzip: a .tar.gz) stream into `dest`, which must be an empty or missing directory.
 * On any error the caller should remove `dest`: what was written so far is left as it is.
 */
export async function extractTarSafely(source: Readable, dest: string, opts: { gzip?: boolean; limits?: ExtractLimits } = {}): Promise<ExtractResult> {
  const limits = opts.limits ?? DEFAULT_EXTRACT_LIMITS;
  const root = path.resolve(dest);
  await fs.promises.mkdir(root, { recursive: true, mode: 0o755 });
  if ((await fs.promises.readdir(root)).length) throw new Error(`${root} is not empty; extraction needs an empty directory`);
  const result: ExtractResult = { files: 0, bytes: 0, skipped: [] };
  /** Each written file, by member path, and when its write is done (a hard link waits for it). */
  const written = new Map<string, Promise<void>>();
  const madeDirs = new Set<string>([root]);
  const pending: Promise<void>[] = [];
  let entries = 0;
  let failure: Error | undefined;

  // Synchronous: a directory must exist before the entry's data starts to flow into its file.
  const mkdirs = (dir: string) => {
    if (madeDirs.has(dir)) return;
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
    madeDirs.add(dir);
  };
  const fail = (e: Error) => {
    failure ??= e;
    parser.abort(e);
  };

  const parser = new Parser({
    strict: true,
    onReadEntry: (entry: ReadEntry) => {
      try {
        onEntry(entry);
      } catch (e) {
        entry.resume();
        fail(e as Error);
      }
    },
  });

  function onEntry(entry: ReadEntry): void {
    if (failure) return void entry.resume();
    if (++entries > limits.maxEntries) throw new UnsafeArchiveError(`the archive has more than ${limits.maxEntries} members`);
    const rel = safeMemberPath(entry.path);
    const target = inside(root, rel || '.');
    switch (entry.type) {
      case 'Directory':
      case 'GNUDumpDir':
        entry.resume();
        mkdirs(target);
        return;
      case 'File':
      case 'OldFile':
      case 'ContiguousFile': {
        if (!rel) throw new UnsafeArchiveError('the archive has a file member with an empty name');
        if (written.has(rel)) throw new UnsafeArchiveError(`the archive has ${JSON.stringify(rel)} twice`);
        result.bytes += entry.size;
        if (result.bytes > limits.maxBytes) throw new UnsafeArchiveError(`the archive holds more than ${limits.maxBytes} bytes`);
        result.files++;
        mkdirs(path.dirname(target));
        // 'wx': O_CREAT|O_EXCL — never follows or replaces anything already there.
        const fd = fs.openSync(target, 'wx', entry.mode && entry.mode & 0o100 ? 0o755 : 0o644);
        const out = fs.createWriteStream('', { fd });
        const done = new Promise<void>((resolve, reject) => {
          out.on('close', resolve);
          out.on('error', reject);
          entry.on('error', reject);
        }).catch((e: Error) => fail(e));
        written.set(rel, done);
        pending.push(done);
        entry.pipe(out);
        return;
      }
      case 'Link': {
        if (!rel) throw new UnsafeArchiveError('the archive has a link member with an empty name');
        let from: string;
        try {
          from = safeMemberPath(entry.linkpath ?? '');
        } catch {
          throw new UnsafeArchiveError(`the member ${JSON.stringify(rel)} is a hard link to ${JSON.stringify(entry.linkpath)}, outside the archive`);
        }
        const source = written.get(from);
        if (!source) throw new UnsafeArchiveError(`the member ${JSON.stringify(rel)} is a hard link to ${JSON.stringify(entry.linkpath)}, which is not an earlier file`);
        if (written.has(rel)) throw new UnsafeArchiveError(`the archive has ${JSON.stringify(rel)} twice`);
        result.files++;
        entry.resume();
        mkdirs(path.dirname(target));
        const done = source
          .then(async () => {
            if (failure) return;
            const size = (await fs.promises.stat(inside(root, from))).size;
            result.bytes += size;
            if (result.bytes > limits.maxBytes) throw new UnsafeArchiveError(`the archive holds more than ${limits.maxBytes} bytes`);
            await fs.promises.copyFile(inside(root, from), target, fs.constants.COPYFILE_EXCL);
          })
          .catch((e: Error) => fail(e));
        written.set(rel, done);
        pending.push(done);
        return;
      }
      case 'SymbolicLink':
        result.skipped.push(`${rel} (a symbolic link to ${entry.linkpath ?? '?'}; links are not copied)`);
        entry.resume();
        return;
      default:
        result.skipped.push(`${rel} (a ${entry.type} member; only files and directories are copied)`);
        entry.resume();
        return;
    }
  }

  // Stop reading as soon as a write fails.
  const watchWrites = new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      if (failure) return cb(failure);
      cb(null, chunk);
    },
  });
  try {
    if (opts.gzip) await pipeline(source, zlib.createGunzip(), watchWrites, parser);
    else await pipeline(source, watchWrites, parser);
  } catch (e) {
    await Promise.all(pending);
    throw failure ?? e;
  }
  await Promise.all(pending);
  if (failure) throw failure;
  return result;
}
