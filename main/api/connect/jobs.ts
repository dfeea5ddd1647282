// Connect's jobs API beyond listing (tasks.ts lists and reads): DELETE …/jobs/{key} orders a kill
// (Connect's KillJobOrder answer; 409 with code 163 for an ended job), GET …/jobs/{key}/log gives
// LogEntries, …/jobs/{key}/tail streams them, and GET …/jobs/{key}/events (Offhost's own) the Kubernetes Events of the job.
import type { FastifyInstance } from 'fastify';
import { parseGuid } from '../../../shared/api';
import { AppError } from '../../../shared/errors';
import type { Core } from '../../core';
import { API, need, queryInt } from './common';

type WithKey = { Params: { guid: string; key: string }; Querystring: Record<string, unknown> };

function parseKey(raw: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(raw)) throw new AppError('NotFound', `There is no job ${JSON.stringify(raw.slice(0, 80))}.`, 'key');
  return raw;
}

export function registerJobRoutes(app: FastifyInstance, core: Core): void {
  app.delete<WithKey>(`${API}/v1/content/:guid/jobs/:key`, async (req) => {
    const { content, job } = await core.jobs.cancel(parseGuid(req.params.guid), parseKey(req.params.key), need(req, 'publisher'));
    return {
      guid: job.key,
      app_id: String(content.id),
      app_guid: content.guid,
      content_id: String(content.id),
      content_guid: content.guid,
      job_id: String(job.id),
      job_key: job.key,
      result: 'Order to kill job registered',
    };
  });

  app.get<WithKey>(`${API}/v1/content/:guid/jobs/:key/log`, async (req) => {
    const max = queryInt(req.query, 'maxLogLines', 5000);
    const { entries } = await core.jobs.log(parseGuid(req.params.guid), parseKey(req.params.key), need(req, 'publisher'), Math.max(1, Math.min(max, 100_000)));
    return { entries };
  });

  // Connect's tail: LogEntry objects, one JSON per line, live while the job runs.
  app.get<WithKey>(`${API}/v1/content/:guid/jobs/:key/tail`, async (req, reply) => {
    const gone = new AbortController();
    req.raw.on('close', () => gone.abort());
    const stream = await core.jobs.tail(parseGuid(req.params.guid), parseKey(req.params.key), need(req, 'publisher'), gone.signal);
    return reply.header('content-type', 'application/x-ndjson; charset=utf-8').send(stream);
  });

  app.get<WithKey>(`${API}/v1/content/:guid/jobs/:key/events`, async (req) => {
    return core.jobs.kubeEvents(parseGuid(req.params.guid), parseKey(req.params.key), need(req, 'publisher'));
  });
}
