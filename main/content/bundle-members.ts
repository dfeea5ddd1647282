// Read a few small members of a stored bundle archive (requirements.txt, renv.lock) without
// extracting it: the launcher keys a content's package library by their contents.
import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import { normaliseMemberName } from './bundle-archive';

/**
 * The text of the named members (normalised names, e.g. "requirements.txt"); members not in the
 * archive, not regular files or larger than `maxBytes` are absent from the result.
 */
export async function readMembers(archive: string, names: string[], maxBytes = 4 * 1024 * 1024): Promise<Map<string, string>> {
  const wanted = new Set(names);
  const out = new Map<string, string>();
  const parser = new Parser({
    onReadEntry: (entry: ReadEntry) => {
      let name: string;
      try {
        name = normaliseMemberName(entry.path);
      } catch {
        entry.resume();
        return;
      }
      if (entry.type !== 'File' || !wanted.has(name) || entry.size > maxBytes) {
        entry.resume();
        return;
      }
      const chunks: Buffer[] = [];
      entry.on('data', (c: Buffer) => chunks.push(c));
      entry.on('end', () => out.set(name, Buffer.concat(chunks).toString('utf8')));
    },
  });
  await pipeline(fs.createReadStream(archive), zlib.createGunzip(), parser);
  return out;
}
