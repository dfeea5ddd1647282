// Bundles: POST /v1/content/{guid}/bundles takes the archive exactly as Posit's clients send it —
// rsconnect-python streams it chunked with no Content-Type, posit-sdk posts raw bytes with a
// Content-Length, and rsconnect sends multipart/form-data (`archive` + a JSON `metadata` field)
// when it has git metadata. Then list, get, download, delete.
import fastifyMultipart from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Readable } from 'node:stream';
import { parseGuid } from '../../../shared/api';
import { AppError } from '../../../shared/errors';
import type { Incoming } from '../../content/bundle-store';
import { presentBundle } from '../../content/present';
import type { Core } from '../../core';
import { API, need, parseBundleId } from './common';

/** The git fields rsconnect puts in `metadata`; anything else there is refused. */
const METADATA_FIELDS = ['source', 'source_repo', 'source_branch', 'source_commit'];

function parseMetadata(text: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new AppError('InvalidRequest', `The "metadata" field is not valid JSON: ${(e as Error).message}.`, 'metadata');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new AppError('InvalidRequest', 'The "metadata" field must be a JSON object.', 'metadata');
  for (const [k, v] of Object.entries(raw)) {
    if (!METADATA_FIELDS.includes(k)) throw new AppError('InvalidRequest', `Unknown metadata field "${k}" (known: ${METADATA_FIELDS.join(', ')}).`, `metadata.${k}`);
    if (v !== null && (typeof v !== 'string' || v.length > 1024)) throw new AppError('InvalidRequest', `metadata.${k} must be text of at most 1024 characters.`, `metadata.${k}`);
  }
  return raw as Record<string, unknown>;
}

export async function registerBundleRoutes(app: FastifyInstance, core: Core): Promise<void> {
  const svc = core.content;
  const base = `${API}/v1/content/:guid/bundles`;
  type WithGuid = { Params: { guid: string } };
  type WithBundle = { Params: { guid: string; id: string } };

  // Uploads get their own parsers, in their own scope: the body stays a stream (it may be a
  // gigabyte), whatever its Content-Type or lack of one.
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    await scope.register(fastifyMultipart, { limits: { files: 1, fields: 4, fieldSize: 64 * 1024, fileSize: core.config.bundleLimits.maxBytes } });
    scope.addContentTypeParser('*', (_req, payload, done) => done(null, payload));

    scope.post<WithGuid>(base, { bodyLimit: core.config.bundleLimits.maxBytes }, async (req, reply) => {
      const caller = need(req, 'publisher');
      const guid = parseGuid(req.params.guid);
      try {
        // An empty body has no stream; it is then an empty (and refused) archive.
        const body = (req.body as Readable | undefined) ?? Readable.from([]);
        const { incoming, metadata } = req.isMultipart() ? await receiveMultipart(req, guid) : { incoming: await svc.receiveBundle(guid, body, caller), metadata: {} };
        const bundle = await svc.storeBundle(guid, incoming, metadata, caller);
        const content = await svc.get(guid);
        return presentBundle(bundle, guid, content.bundle_id);
      } catch (e) {
        // The rest of a refused upload is not read: close the connection rather than leave the
        // client sending into a socket nobody reads (and the server waiting for it at shutdown).
        reply.header('Connection', 'close');
        throw e;
      }
    });
  });

  async function receiveMultipart(req: FastifyRequest, guid: string): Promise<{ incoming: Incoming; metadata: Record<string, unknown> }> {
    const caller = req.caller!;
    let incoming: Incoming | undefined;
    let metadata: Record<string, unknown> = {};
    try {
      for await (const part of req.parts()) {
        if (part.type === 'file') {
          if (part.fieldname !== 'archive') throw new AppError('InvalidRequest', `Unexpected file field "${part.fieldname}"; send the bundle as "archive".`, part.fieldname);
          if (incoming) throw new AppError('InvalidRequest', 'Send one "archive".', 'archive');
          incoming = await svc.receiveBundle(guid, part.file, caller);
          if (part.file.truncated) throw new AppError('BundleTooLarge', 'The bundle is larger than the upload limit (OFFHOST_BUNDLE_MAX_BYTES).', 'archive');
        } else if (part.fieldname === 'metadata') {
          metadata = parseMetadata(String(part.value));
        } else {
          throw new AppError('InvalidRequest', `Unexpected form field "${part.fieldname}"; send "archive" and optionally "metadata".`, part.fieldname);
        }
      }
    } catch (e) {
      if (incoming) await svc.bundles.discard(incoming);
      throw e;
    }
    if (!incoming) throw new AppError('InvalidRequest', 'The form has no "archive" file: send the bundle as a file field named "archive".', 'archive');
    return { incoming, metadata };
  }

  app.get<WithGuid>(base, async (req) => {
    const caller = need(req, 'publisher');
    const guid = parseGuid(req.params.guid);
    const { content, bundles } = await svc.listBundles(guid, caller);
    return bundles.map((b) => presentBundle(b, guid, content.bundle_id));
  });

  app.get<WithBundle>(`${base}/:id`, async (req) => {
    const caller = need(req, 'publisher');
    const guid = parseGuid(req.params.guid);
    const { content, bundle } = await svc.getBundle(guid, parseBundleId(req.params.id), caller);
    return presentBundle(bundle, guid, content.bundle_id);
  });

  app.get<WithBundle>(`${base}/:id/download`, async (req, reply) => {
    const caller = need(req, 'publisher');
    const guid = parseGuid(req.params.guid);
    const { bundle, stream } = await svc.openBundle(guid, parseBundleId(req.params.id), caller);
    return reply
      .type('application/gzip')
      .header('Content-Length', String(bundle.size))
      .header('Content-Disposition', `attachment; filename="bundle-${bundle.id}.tar.gz"`)
      .send(stream);
  });

  app.delete<WithBundle>(`${base}/:id`, async (req, reply) => {
    const caller = need(req, 'publisher');
    await svc.deleteBundle(parseGuid(req.params.guid), parseBundleId(req.params.id), caller);
    return reply.code(204).send();
  });
}
