// Reads an uploaded bundle (a gzipped tar with manifest.json, as rsconnect, rsconnect-python and
// Posit Publisher write it) once, as a stream, and decides whether it can be deployed. Nothing is
// written anywhere: the caller stores the archive only when this returns.
//
// Refused, each with a message naming the member or manifest field: not gzip, not tar, no
// manifest.json, manifest not JSON, unknown or missing app mode, entrypoint / primary document /
// package file named but absent, absolute or `..` member names, links leaving the bundle, device
// and FIFO members, a `files` checksum that does not match, more bytes or members once expanded
// than the limits allow (a zip-bomb-style archive).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import { DEPLOYABLE_APP_MODES, normaliseAppMode, type AppMode } from '../../shared/content';
import { AppError } from '../../shared/errors';
import { parseManifest, type Manifest } from '../../shared/manifest';
import { quote } from '../../shared/validation';

export interface ArchiveLimits {
  /** Total bytes of the members once decompressed. */
  maxExpandedBytes: number;
  /** Members (files, directories, links). */
  maxEntries: number;
  /** manifest.json itself. */
  maxManifestBytes: number;
}

export const DEFAULT_ARCHIVE_LIMITS: ArchiveLimits = {
  maxExpandedBytes: 4 * 1024 ** 3,
  maxEntries: 100_000,
  maxManifestBytes: 16 * 1024 ** 2,
};

export interface InspectedBundle {
  manifest: Manifest & Record<string, unknown>;
  appMode: AppMode;
  /** Regular files in the archive, by normalised path, with their size. */
  files: Map<string, number>;
}

interface MemberInfo {
  md5: string;
  size: number;
  /** The text of small package files, to check rsconnect's filtered checksum. */
  text?: string;
}

/** Files whose checksum rsconnect computes without its own lines ("rsconnect" in requirements). */
const KEEP_TEXT_MAX = 1024 * 1024;
/** Names a package file has (requirements.txt, requirements.txt.lock, uv.lock, package.json, …). */
const PACKAGE_FILE_NAME = /(^|\/)(requirements[^/]*|[^/]*\.(txt|lock|toml|json|ya?ml|cfg))$/i;

function bad(message: string, field?: string): AppError {
  return new AppError('InvalidBundle', message, field);
}

/** "./app.py" -> "app.py"; refuses absolute names and any ".." segment. */
export function normaliseMemberName(raw: string): string {
  if (raw.includes('\0')) throw bad(`The archive member ${quote(raw)} has a NUL character in its name.`);
  if (raw.startsWith('/') || /^[A-Za-z]:[\\/]/.test(raw) || raw.startsWith('\\'))
    throw bad(`The archive member ${quote(raw)} has an absolute path; bundle members must be relative to the bundle's root.`);
  const segments = raw.split(/[\\/]+/);
  if (segments.includes('..')) throw bad(`The archive member ${quote(raw)} has ".." in its path; members must stay inside the bundle.`);
  return segments.filter((s) => s !== '.' && s !== '').join('/');
}

/** Where a symbolic link at `member` pointing to `target` lands, or undefined if outside the bundle. */
function linkTarget(member: string, target: string): string | undefined {
  if (target.startsWith('/') || /^[A-Za-z]:[\\/]/.test(target)) return undefined;
  const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(member), target.replace(/\\/g, '/')));
  if (resolved === '..' || resolved.startsWith('../') || path.posix.isAbsolute(resolved)) return undefined;
  return resolved === '.' ? '' : resolved;
}

class ByteLimit extends Transform {
  total = 0;
  constructor(private readonly limit: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.total += chunk.length;
    if (this.total > this.limit)
      return done(new AppError('BundleTooLarge', `The bundle expands to more than ${describeBytes(this.limit)} once decompressed; that is the limit (OFFHOST_BUNDLE_MAX_EXPANDED_BYTES).`));
    done(null, chunk);
  }
}

export function describeBytes(n: number): string {
  if (n >= 1024 ** 3) return `${+(n / 1024 ** 3).toFixed(1)} GiB`;
  if (n >= 1024 ** 2) return `${+(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${+(n / 1024).toFixed(1)} KiB`;
  return `${n} bytes`;
}

export async function inspectBundle(file: string, limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS): Promise<InspectedBundle> {
  const head = Buffer.alloc(2);
  const fd = await fs.promises.open(file, 'r');
  let read: number;
  try {
    ({ bytesRead: read } = await fd.read(head, 0, 2, 0));
  } finally {
    await fd.close();
  }
  if (read === 0) throw bad('The bundle is empty; upload a .tar.gz archive with manifest.json at its root.');
  if (read < 2 || head[0] !== 0x1f || head[1] !== 0x8b)
    throw bad('The bundle is not a gzip file; upload a .tar.gz archive (a tar archive compressed with gzip) with manifest.json at its root.');

  const members = new Map<string, MemberInfo>();
  const directories = new Set<string>();
  let manifestText: string | undefined;
  let entries = 0;
  let failure: AppError | undefined;

  const parser = new Parser({
    strict: true,
    onReadEntry: (entry: ReadEntry) => {
      try {
        onEntry(entry);
      } catch (e) {
        failure ??= e as AppError;
        entry.resume();
        parser.abort(e as Error);
      }
    },
  });

  function onEntry(entry: ReadEntry): void {
    if (++entries > limits.maxEntries) throw bad(`The bundle has more than ${limits.maxEntries} members; that is the limit.`);
    const name = normaliseMemberName(entry.path);
    switch (entry.type) {
      case 'Directory':
      case 'GNUDumpDir':
        if (name) directories.add(name);
        entry.resume();
        return;
      case 'SymbolicLink': {
        const target = linkTarget(name, entry.linkpath ?? '');
        if (target === undefined) throw bad(`The archive member ${quote(name)} is a link to ${quote(entry.linkpath ?? '')}, which is outside the bundle.`);
        entry.resume();
        return;
      }
      case 'Link': {
        const target = normaliseLinkpath(entry.linkpath ?? '', name);
        if (!members.has(target)) throw bad(`The archive member ${quote(name)} is a hard link to ${quote(entry.linkpath ?? '')}, which is not an earlier file in the bundle.`);
        members.set(name, members.get(target)!);
        entry.resume();
        return;
      }
      case 'File':
      case 'OldFile':
      case 'ContiguousFile':
        break;
      case 'CharacterDevice':
      case 'BlockDevice':
        throw bad(`The archive member ${quote(name)} is a device file; bundles may hold only files, directories and links inside the bundle.`);
      case 'FIFO':
        throw bad(`The archive member ${quote(name)} is a named pipe (FIFO); bundles may hold only files, directories and links inside the bundle.`);
      default:
        throw bad(`The archive member ${quote(name)} has an unsupported type (${entry.type}).`);
    }
    if (!name) throw bad('The archive has a file member with an empty name.');
    if (members.has(name)) throw bad(`The archive has ${quote(name)} twice; each file may appear once.`);
    const isManifest = name === 'manifest.json';
    if (isManifest && entry.size > limits.maxManifestBytes) throw bad(`manifest.json is ${describeBytes(entry.size)}; the limit is ${describeBytes(limits.maxManifestBytes)}.`, 'manifest.json');
    const md5 = createHash('md5');
    // Only files that may be a package file keep their text (for rsconnect's filtered checksum).
    const keep = isManifest || (entry.size <= KEEP_TEXT_MAX && PACKAGE_FILE_NAME.test(name)) ? ([] as Buffer[]) : undefined;
    entry.on('data', (chunk: Buffer) => {
      md5.update(chunk);
      keep?.push(chunk);
    });
    entry.on('end', () => {
      const text = keep ? Buffer.concat(keep).toString('utf8') : undefined;
      if (isManifest) manifestText = text;
      members.set(name, { md5: md5.digest('hex'), size: entry.size, ...(text !== undefined && !isManifest ? { text } : {}) });
    });
  }

  try {
    await pipeline(fs.createReadStream(file), zlib.createGunzip(), new ByteLimit(limits.maxExpandedBytes), parser);
  } catch (e) {
    if (failure) throw failure;
    if (e instanceof AppError) throw e;
    const err = e as NodeJS.ErrnoException & { tarCode?: string };
    if (err.code?.startsWith('Z_') || err.errno !== undefined && /zlib|header check|unexpected end/i.test(err.message))
      throw bad(`The bundle is not a valid gzip file: ${err.message}.`);
    if (err.tarCode || err.code?.startsWith('TAR_')) throw bad(`The bundle is not a valid tar archive: ${err.message}.`);
    throw e;
  }
  if (failure) throw failure;
  if (entries === 0) throw bad('The bundle is not a tar archive with members (it holds no files); it needs manifest.json at its root.');

  if (manifestText === undefined) throw bad('The bundle has no manifest.json at its root; rsconnect, rsconnect-python and Posit Publisher write one.', 'manifest.json');
  let raw: unknown;
  try {
    raw = JSON.parse(manifestText);
  } catch (e) {
    throw new AppError('InvalidManifest', `manifest.json is not valid JSON: ${(e as Error).message}.`, 'manifest.json');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new AppError('InvalidManifest', 'manifest.json must hold a JSON object.', 'manifest.json');
  const manifest = parseManifest(raw) as Manifest & Record<string, unknown>;

  const rawMode = manifest.metadata?.appmode;
  if (rawMode === undefined || rawMode === '')
    throw new AppError('InvalidManifest', 'manifest.json has no metadata.appmode; it says what the content is (e.g. "python-fastapi", "quarto-static").', 'metadata.appmode');
  const appMode = normaliseAppMode(rawMode);
  if (!appMode || appMode === 'unknown')
    throw new AppError('InvalidManifest', `manifest.json's metadata.appmode ${quote(rawMode)} is not an app mode Offhost knows (${DEPLOYABLE_APP_MODES.join(', ')}).`, 'metadata.appmode');

  const files = new Map([...members].map(([n, m]) => [n, m.size]));
  const has = (p: string) => members.has(p) || directories.has(p) || [...members.keys()].some((m) => m.startsWith(`${p}/`));
  const listing = () => {
    const names = [...members.keys()].filter((n) => n !== 'manifest.json').sort();
    return names.length > 8 ? `${names.slice(0, 8).join(', ')}, … (${names.length} files)` : names.join(', ') || 'nothing else';
  };

  checkEntrypoint(manifest, appMode, (p) => has(p), listing);
  const metadata = (manifest.metadata ?? {}) as Record<string, unknown>;
  for (const field of ['primary_rmd', 'primary_html', 'primary_document']) {
    const value = metadata[field];
    if (typeof value === 'string' && value !== '' && !has(normaliseNamed(value, `metadata.${field}`)))
      throw bad(`manifest.json's metadata.${field} names ${quote(value)}, which is not in the bundle (it has ${listing()}).`, `metadata.${field}`);
  }

  const packageFiles: string[] = [];
  for (const lang of ['python', 'node'] as const) {
    const section = manifest[lang] as Record<string, unknown> | undefined;
    const pm = section?.package_manager as Record<string, unknown> | undefined;
    const named = pm?.package_file ?? section?.package_file;
    if (typeof named === 'string' && named !== '') {
      const field = pm?.package_file !== undefined ? `${lang}.package_manager.package_file` : `${lang}.package_file`;
      const p = normaliseNamed(named, field);
      if (!members.has(p)) throw bad(`manifest.json's ${field} names ${quote(named)}, which is not in the bundle (it has ${listing()}).`, field);
      packageFiles.push(p);
    }
  }

  checkChecksums(raw as Record<string, unknown>, members, packageFiles);
  return { manifest, appMode, files };
}

function normaliseLinkpath(linkpath: string, member: string): string {
  try {
    return normaliseMemberName(linkpath);
  } catch {
    throw bad(`The archive member ${quote(member)} is a hard link to ${quote(linkpath)}, which is outside the bundle.`);
  }
}

/** A path the manifest names, held to the same rules as member names. */
function normaliseNamed(value: string, field: string): string {
  try {
    return normaliseMemberName(value);
  } catch (e) {
    throw bad(`manifest.json's ${field} ${quote(value)} must be a path inside the bundle: ${(e as Error).message}`, field);
  }
}

/**
 * Python apps name a module ("app", "app:app", "pkg.main:api") or a file ("app.py", as Streamlit
 * and Bokeh do); documents and R content name a file. Whichever it is must be in the bundle.
 */
function checkEntrypoint(manifest: Manifest, mode: AppMode, has: (p: string) => boolean, listing: () => string): void {
  const entrypoint = manifest.metadata?.entrypoint;
  if (entrypoint === undefined || entrypoint === '') return;
  const field = 'metadata.entrypoint';
  if (has(normaliseNamed(entrypoint, field))) return;
  const pythonModule = (mode.startsWith('python-') || mode === 'tensorflow-saved-model') && !/\.(py|ipynb|R|Rmd|qmd|html?)$/i.test(entrypoint);
  if (pythonModule) {
    const module = entrypoint.split(':')[0]!;
    if (!/^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$/.test(module))
      throw bad(`manifest.json's metadata.entrypoint ${quote(entrypoint)} is neither a file in the bundle nor a Python module name ("module" or "module:object").`, field);
    const asFile = `${module.replace(/\./g, '/')}.py`;
    const asPackage = `${module.replace(/\./g, '/')}/__init__.py`;
    if (has(asFile) || has(asPackage)) return;
    throw bad(`manifest.json's metadata.entrypoint ${quote(entrypoint)} names module ${module}, but ${asFile} is not in the bundle (it has ${listing()}).`, field);
  }
  throw bad(`manifest.json's metadata.entrypoint names ${quote(entrypoint)}, which is not in the bundle (it has ${listing()}).`, field);
}

/**
 * Each `files` entry with a checksum (MD5, hex) must match its member. rsconnect computes the
 * requirements file's checksum without the lines that mention rsconnect, so for package files
 * that variant is accepted too. Entries without a checksum (or an empty one) are not checked.
 */
function checkChecksums(raw: Record<string, unknown>, members: Map<string, MemberInfo>, packageFiles: string[]): void {
  const files = raw.files;
  if (files === undefined || files === null) return;
  if (typeof files !== 'object' || Array.isArray(files)) throw new AppError('InvalidManifest', 'manifest.json\'s "files" must be an object of {path: {checksum}}.', 'files');
  for (const [listed, info] of Object.entries(files as Record<string, unknown>)) {
    const field = `files[${JSON.stringify(listed)}]`;
    if (info !== null && (typeof info !== 'object' || Array.isArray(info))) throw new AppError('InvalidManifest', `manifest.json's ${field} must be an object like {"checksum": "<md5>"}.`, field);
    const checksum = (info as { checksum?: unknown } | null)?.checksum;
    if (checksum === undefined || checksum === null || checksum === '') continue;
    if (typeof checksum !== 'string') throw new AppError('InvalidManifest', `manifest.json's ${field}.checksum must be text (an MD5 in hex).`, `${field}.checksum`);
    const p = normaliseNamed(listed, field);
    const member = members.get(p);
    if (!member) throw bad(`manifest.json lists ${quote(listed)} in "files", but it is not in the bundle.`, field);
    const want = checksum.toLowerCase();
    if (member.md5 === want) continue;
    if (packageFiles.includes(p) && member.text !== undefined && filteredMd5(member.text) === want) continue;
    throw bad(`The checksum of ${quote(listed)} does not match manifest.json: the file's MD5 is ${member.md5}, the manifest says ${checksum}. The archive may be damaged; build it again.`, field);
  }
}

function filteredMd5(text: string): string {
  const kept = text.split('\n').filter((line) => !line.includes('rsconnect'));
  return createHash('md5').update(kept.join('\n')).digest('hex');
}
