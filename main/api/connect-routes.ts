// Posit Connect's /__api__/v1/environments, with its paths, field names, status codes and error
// body, so rsconnect-python, posit-sdk and existing scripts work against Offhost unchanged.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parseGuid, roleAllows, type Role } from '../../shared/api';
import { parseEnvironmentSpec, parseEnvironmentUpdate } from '../../shared/environment';
import { AppError } from '../../shared/errors';
import type { Core } from '../core';
import type { CallContext } from './handlers';

function need(req: FastifyRequest, role: Role): CallContext {
  const caller = req.caller!;
  if (!roleAllows(caller.role, role)) throw new AppError('Forbidden', `This needs the ${role} role; your key has ${caller.role}.`);
  return caller;
}

export function registerConnectRoutes(app: FastifyInstance, core: Core): void {
  const envs = core.environments;
  const base = '/__api__/v1/environments';
  type WithGuid = { Params: { guid: string } };

  app.get(base, async (req) => {
    need(req, 'publisher');
    return envs.list();
  });

  app.post(base, async (req) => {
    const caller = need(req, 'admin');
    return envs.create(parseEnvironmentSpec(req.body), caller.actor);
  });

  app.get<WithGuid>(`${base}/:guid`, async (req) => {
    need(req, 'publisher');
    return envs.get(parseGuid(req.params.guid));
  });

  app.put<WithGuid>(`${base}/:guid`, async (req) => {
    const caller = need(req, 'admin');
    const guid = parseGuid(req.params.guid);
    return envs.update(guid, parseEnvironmentUpdate(req.body), caller.actor);
  });

  app.delete<WithGuid>(`${base}/:guid`, async (req, reply) => {
    const caller = need(req, 'admin');
    await envs.remove(parseGuid(req.params.guid), caller.actor);
    return reply.code(204).send();
  });
}
