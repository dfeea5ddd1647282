// /__api__/v1/content: create, list (by name and owner), get, PATCH, delete, and environment
// variables — Connect's field names and units (CPU in cores, memory in bytes, seconds).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parseGuid } from '../../../shared/api';
import { parseContentChanges } from '../../../shared/content';
import { AppError } from '../../../shared/errors';
import { presentContent } from '../../content/present';
import type { Core } from '../../core';
import type { ContentRecord } from '../../store/content-repo';
import { usersRepo, type UserRecord } from '../../users/users';
import { API, baseUrl, need } from './common';

type Include = { owner?: boolean; tags?: boolean; vanity_url?: boolean };

function parseInclude(raw: unknown): Include {
  if (raw === undefined || raw === '') return {};
  const parts = (Array.isArray(raw) ? raw.join(',') : String(raw)).split(',').map((s) => s.trim()).filter(Boolean);
  const out: Include = {};
  for (const p of parts) {
    if (p !== 'owner' && p !== 'tags' && p !== 'vanity_url') throw new AppError('InvalidRequest', `include=${JSON.stringify(p)} is not one of owner, tags, vanity_url.`, 'include');
    out[p] = true;
  }
  return out;
}

const ENV_VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,254}$/;

function parseEnvVars(body: unknown): { name: string; value: string | null }[] {
  if (!Array.isArray(body)) throw new AppError('InvalidRequest', 'Send a JSON list like [{"name": "API_URL", "value": "https://…"}] (value null removes a variable).');
  return body.map((item, i) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new AppError('InvalidRequest', `Item ${i} must be an object {"name", "value"}.`, `[${i}]`);
    const { name, value, ...rest } = item as Record<string, unknown>;
    const extra = Object.keys(rest)[0];
    if (extra !== undefined) throw new AppError('InvalidRequest', `Unknown field "${extra}" in item ${i}.`, `[${i}].${extra}`);
    if (typeof name !== 'string' || !ENV_VAR_NAME.test(name))
      throw new AppError('InvalidRequest', `Item ${i}: "name" must be a variable name (letters, digits and "_", not starting with a digit).`, `[${i}].name`);
    if (value !== null && typeof value !== 'string') throw new AppError('InvalidRequest', `Item ${i}: "value" must be text, or null to remove the variable.`, `[${i}].value`);
    return { name, value: value ?? null };
  });
}

export function registerContentRoutes(app: FastifyInstance, core: Core): void {
  const svc = core.content;
  const base = `${API}/v1/content`;
  type WithGuid = { Params: { guid: string } };

  async function present(req: FastifyRequest, items: ContentRecord[], include: Include) {
    const caller = req.caller!;
    const owners = new Map<string, UserRecord | null>();
    if (include.owner)
      for (const c of items) if (c.owner_guid && !owners.has(c.owner_guid)) owners.set(c.owner_guid, (await usersRepo.byGuid(core.store.db, c.owner_guid)) ?? null);
    return items.map((c) =>
      presentContent(c, caller, baseUrl(req, core), {
        ...(include.owner ? { owner: c.owner_guid ? (owners.get(c.owner_guid) ?? null) : null } : {}),
        tags: include.tags,
        vanity_url: include.vanity_url,
      }),
    );
  }

  // rsconnect probes names with ?name= until one is free, so the filter must filter.
  app.get<{ Querystring: Record<string, unknown> }>(base, async (req) => {
    need(req, 'viewer');
    const q = req.query;
    const filter: { name?: string; owner_guid?: string } = {};
    if (typeof q.name === 'string') filter.name = q.name;
    if (q.owner_guid !== undefined) filter.owner_guid = parseGuid(q.owner_guid, 'owner_guid');
    return present(req, await svc.list(filter), parseInclude(q.include));
  });

  app.post(base, async (req) => {
    const caller = need(req, 'publisher');
    const created = await svc.create(parseContentChanges(req.body, { requireName: true }), caller);
    return (await present(req, [created], {}))[0];
  });

  app.get<WithGuid & { Querystring: Record<string, unknown> }>(`${base}/:guid`, async (req) => {
    need(req, 'viewer');
    const c = await svc.get(parseGuid(req.params.guid));
    return (await present(req, [c], parseInclude(req.query.include)))[0];
  });

  // Returns the whole item: posit-sdk merges the answer into its object.
  app.patch<WithGuid>(`${base}/:guid`, async (req) => {
    const caller = need(req, 'publisher');
    const updated = await svc.update(parseGuid(req.params.guid), parseContentChanges(req.body), caller);
    return (await present(req, [updated], {}))[0];
  });

  app.delete<WithGuid>(`${base}/:guid`, async (req, reply) => {
    const caller = need(req, 'publisher');
    await svc.remove(parseGuid(req.params.guid), caller);
    return reply.code(204).send();
  });

  // Environment variables: names only ever leave the server. PATCH sets (value null removes),
  // PUT replaces the whole set; both answer the names, which rsconnect needs as JSON.
  app.get<WithGuid>(`${base}/:guid/environment`, async (req) => svc.envVarNames(parseGuid(req.params.guid), need(req, 'publisher')));
  app.patch<WithGuid>(`${base}/:guid/environment`, async (req) =>
    svc.setEnvVars(parseGuid(req.params.guid), parseEnvVars(req.body), false, need(req, 'publisher')),
  );
  app.put<WithGuid>(`${base}/:guid/environment`, async (req) => svc.setEnvVars(parseGuid(req.params.guid), parseEnvVars(req.body), true, need(req, 'publisher')));
}
