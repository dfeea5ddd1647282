// Deploys and what follows them: POST …/deploy and …/build answer {task_id} at once (202);
// GET /v1/tasks/{id}?first=N&wait=S long-polls the output; GET …/jobs lists the launcher's work.
import type { FastifyInstance } from 'fastify';
import { parseGuid } from '../../../shared/api';
import { AppError } from '../../../shared/errors';
import { presentJob } from '../../content/present';
import type { Core } from '../../core';
import { API, need, objectBody, parseBundleId, queryInt } from './common';

function parseDeployBody(raw: unknown): { bundleId: number | null; activate: boolean } {
  const body = objectBody(raw);
  const extra = Object.keys(body).find((k) => k !== 'bundle_id' && k !== 'activate');
  if (extra) throw new AppError('InvalidRequest', `Unknown field "${extra}"; send {"bundle_id": "…", "activate": true|false}.`, extra);
  if (body.activate !== undefined && typeof body.activate !== 'boolean') throw new AppError('InvalidRequest', '"activate" must be true or false.', 'activate');
  // null or absent: the newest bundle (posit-sdk's content.deploy() sends null).
  const bundleId = body.bundle_id === undefined || body.bundle_id === null ? null : parseBundleId(body.bundle_id);
  return { bundleId, activate: body.activate ?? true };
}

export function registerTaskRoutes(app: FastifyInstance, core: Core): void {
  const svc = core.content;
  type WithGuid = { Params: { guid: string } };

  for (const kind of ['deploy', 'build'] as const)
    app.post<WithGuid>(`${API}/v1/content/:guid/${kind}`, async (req, reply) => {
      const caller = need(req, 'publisher');
      const { bundleId, activate } = parseDeployBody(req.body);
      const task = await svc.deploy(parseGuid(req.params.guid), bundleId, activate, caller, kind);
      return reply.code(202).send({ task_id: task.id });
    });

  app.get<{ Params: { id: string }; Querystring: Record<string, unknown> }>(`${API}/v1/tasks/:id`, async (req) => {
    const caller = need(req, 'publisher');
    if (!/^[A-Za-z0-9]{1,64}$/.test(req.params.id)) throw new AppError('NotFound', `There is no task ${JSON.stringify(req.params.id.slice(0, 80))}.`, 'id');
    const { task } = await svc.task(req.params.id, queryInt(req.query, 'first', 0), queryInt(req.query, 'wait', 0), caller);
    return task;
  });

  app.get<WithGuid>(`${API}/v1/content/:guid/jobs`, async (req) => {
    const { content, jobs } = await svc.jobs(parseGuid(req.params.guid), need(req, 'publisher'));
    return jobs.map((j) => presentJob(j, content.id));
  });

  app.get<{ Params: { guid: string; key: string } }>(`${API}/v1/content/:guid/jobs/:key`, async (req) => {
    const { content, job } = await svc.job(parseGuid(req.params.guid), req.params.key, need(req, 'publisher'));
    return presentJob(job, content.id);
  });
}
