// Posit Connect's /__api__/v1/environments and their permissions, with its paths, field names,
// status codes and error body, so rsconnect-python, posit-sdk and scripts work unchanged.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { parseGuid } from '../../../shared/api';
import { parseEnvironmentSpec, parseEnvironmentUpdate, specOf } from '../../../shared/environment';
import { AppError } from '../../../shared/errors';
import { usableEnvironments } from '../../content/deploy';
import type { Core } from '../../core';
import { auditRepo } from '../../store/audit-repo';
import { environmentPermissionsRepo } from '../../store/environment-permissions-repo';
import { usersRepo } from '../../users/users';
import { API, need, objectBody } from './common';

export function registerEnvironmentRoutes(app: FastifyInstance, core: Core): void {
  const envs = core.environments;
  const db = core.store.db;
  const base = `${API}/v1/environments`;
  type WithGuid = { Params: { guid: string } };

  // Publishers see the environments they may use (Connect hides the others once permissions exist).
  app.get(base, async (req) => {
    const caller = need(req, 'publisher');
    const all = await envs.list();
    if (caller.role === 'admin' || !caller.user) return all;
    return usableEnvironments(all, await environmentPermissionsRepo.all(db), caller.user);
  });

  app.post(base, async (req) => {
    const caller = need(req, 'admin');
    return envs.create(parseEnvironmentSpec(req.body), caller.actor);
  });

  app.get<WithGuid>(`${base}/:guid`, async (req) => {
    const caller = need(req, 'publisher');
    const env = await envs.get(parseGuid(req.params.guid));
    if (caller.role !== 'admin' && caller.user && usableEnvironments([env], await environmentPermissionsRepo.list(db, env.guid), caller.user).length === 0)
      throw new AppError('NotFound', `There is no environment with guid ${env.guid}.`, 'guid');
    return env;
  });

  // rsconnect's `environment edit` sends every field (copied back from a GET); posit-sdk's update()
  // sends only the ones passed. So a field left out keeps its value, and one sent as null resets it.
  app.put<WithGuid>(`${base}/:guid`, async (req) => {
    const caller = need(req, 'admin');
    const guid = parseGuid(req.params.guid);
    const body = objectBody(req.body);
    const { name: _n, cluster_name: _c, ...current } = specOf(await envs.get(guid));
    return envs.update(guid, parseEnvironmentUpdate({ ...current, ...body }), caller.actor);
  });

  app.delete<WithGuid>(`${base}/:guid`, async (req, reply) => {
    const caller = need(req, 'admin');
    await envs.remove(parseGuid(req.params.guid), caller.actor);
    return reply.code(204).send();
  });

  // --- permissions: who may use an environment (none listed = every publisher; admins always) ---
  type WithPermission = { Params: { guid: string; permission: string } };

  app.get<WithGuid>(`${base}/:guid/permissions`, async (req) => {
    need(req, 'admin');
    const env = await envs.get(parseGuid(req.params.guid));
    return environmentPermissionsRepo.list(db, env.guid);
  });

  app.get<WithPermission>(`${base}/:guid/permissions/:permission`, async (req) => {
    need(req, 'admin');
    const env = await envs.get(parseGuid(req.params.guid));
    const p = await environmentPermissionsRepo.get(db, env.guid, parseGuid(req.params.permission, 'permission_guid'));
    if (!p) throw new AppError('NotFound', `Environment ${env.guid} has no permission ${req.params.permission}.`, 'permission_guid');
    return p;
  });

  app.post<WithGuid>(`${base}/:guid/permissions`, async (req) => {
    const caller = need(req, 'admin');
    const env = await envs.get(parseGuid(req.params.guid));
    const body = objectBody(req.body);
    const extra = Object.keys(body).find((k) => k !== 'user_guid' && k !== 'group_guid');
    if (extra) throw new AppError('InvalidEnvironmentPermission', `Unknown field "${extra}"; send {"user_guid": …} or {"group_guid": …}.`, extra);
    const user = body.user_guid ?? null;
    const group = body.group_guid ?? null;
    if ((user === null) === (group === null))
      throw new AppError('InvalidEnvironmentPermission', 'Send exactly one of "user_guid" and "group_guid".', user === null ? 'user_guid' : 'group_guid');
    const userGuid = user === null ? null : parseGuid(user, 'user_guid');
    const groupGuid = group === null ? null : parseGuid(group, 'group_guid');
    if (userGuid && !(await usersRepo.byGuid(db, userGuid))) throw new AppError('NotFound', `There is no user with guid ${userGuid}.`, 'user_guid');
    return db.transaction().execute(async (trx) => {
      const existing = await environmentPermissionsRepo.list(trx, env.guid);
      if (existing.some((p) => (userGuid && p.user_guid === userGuid) || (groupGuid && p.group_guid === groupGuid)))
        throw new AppError('DuplicateEnvironmentPermission', `Environment "${env.title}" already has a permission for this ${userGuid ? 'user' : 'group'}.`, userGuid ? 'user_guid' : 'group_guid');
      const now = new Date().toISOString();
      const p = await environmentPermissionsRepo.insert(trx, { guid: randomUUID(), environment_guid: env.guid, user_guid: userGuid, group_guid: groupGuid }, now);
      await auditRepo.record(trx, { actor: caller.actor, action: 'environment.permission.add', targetType: 'environment', targetId: env.guid, after: p, time: now });
      return p;
    });
  });

  app.delete<WithPermission>(`${base}/:guid/permissions/:permission`, async (req, reply) => {
    const caller = need(req, 'admin');
    const env = await envs.get(parseGuid(req.params.guid));
    const guid = parseGuid(req.params.permission, 'permission_guid');
    await db.transaction().execute(async (trx) => {
      const p = await environmentPermissionsRepo.get(trx, env.guid, guid);
      if (!p) throw new AppError('NotFound', `Environment ${env.guid} has no permission ${guid}.`, 'permission_guid');
      await environmentPermissionsRepo.delete(trx, guid);
      await auditRepo.record(trx, { actor: caller.actor, action: 'environment.permission.delete', targetType: 'environment', targetId: env.guid, before: p, time: new Date().toISOString() });
    });
    return reply.code(204).send();
  });
}
