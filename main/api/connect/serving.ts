// Where content is served: /content/{guid}/ (and a draft at /content/{guid}/_bundle{id}/, which
// rsconnect-python requests to verify a deploy). Nothing runs content until the launcher exists,
// so an existing item answers 503: rsconnect counts only a 5xx as "the app did not start", and a
// 404 or the UI's page would pass its check for content that is not running.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseGuid } from '../../../shared/api';
import { AppError, ERRORS } from '../../../shared/errors';
import type { Core } from '../../core';

export function registerServingRoutes(app: FastifyInstance, core: Core): void {
  // Answered in Connect's error shape (posit-sdk reads `code` and `error` from any error here).
  const handler = async (req: FastifyRequest<{ Params: { guid: string } }>, reply: FastifyReply) => {
    const c = await core.content.get(parseGuid(req.params.guid)).catch((e: AppError) => e);
    const err =
      c instanceof AppError
        ? c
        : new AppError('Unavailable', `"${c.name}" is not running: starting content is the launcher's work, which this version of Offhost does not have yet. Its jobs wait in the queue.`);
    return reply.code(err.status).send({ code: ERRORS[err.code].connect, error: err.message, payload: null });
  };
  app.get<{ Params: { guid: string } }>('/content/:guid', handler);
  app.get<{ Params: { guid: string } }>('/content/:guid/*', handler);
}
