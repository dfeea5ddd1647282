// Where content is served: /content/{guid}/ (and a draft at /content/{guid}/_bundle{id}/, which
// rsconnect-python requests to verify a deploy). Nothing runs content until the launcher exists,
// so an existing item answers 503: rsconnect counts only a 5xx as "the app did not start", and a
// 404 or the UI's page would pass its check for content that is not running.
import type { FastifyInstance } from 'fastify';
import { parseGuid } from '../../../shared/api';
import { AppError } from '../../../shared/errors';
import type { Core } from '../../core';

export function registerServingRoutes(app: FastifyInstance, core: Core): void {
  const handler = async (req: { params: { guid: string } }) => {
    const c = await core.content.get(parseGuid(req.params.guid));
    throw new AppError('Unavailable', `"${c.name}" is not running: starting content is the launcher's work, which this version of Offhost does not have yet. Its jobs wait in the queue.`);
  };
  app.get<{ Params: { guid: string } }>('/content/:guid', handler);
  app.get<{ Params: { guid: string } }>('/content/:guid/*', handler);
}
