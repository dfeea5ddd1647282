// Users and groups as posit-sdk pages through them: exactly {results, current_page, total}.
// Offhost has no groups yet (environment permissions may still name a group guid), so the group
// list is empty.
import type { FastifyInstance } from 'fastify';
import { parseGuid } from '../../../shared/api';
import { AppError } from '../../../shared/errors';
import type { Core } from '../../core';
import { publicUser, usersRepo } from '../../users/users';
import { API, need, queryInt } from './common';

/** posit-sdk asks for up to 500 a page. */
const MAX_PAGE_SIZE = 500;

export function registerUserRoutes(app: FastifyInstance, core: Core): void {
  app.get<{ Querystring: Record<string, unknown> }>(`${API}/v1/users`, async (req) => {
    need(req, 'viewer');
    const q = req.query;
    const page = Math.max(1, queryInt(q, 'page_number', 1));
    const size = Math.min(MAX_PAGE_SIZE, Math.max(1, queryInt(q, 'page_size', 20)));
    const prefix = typeof q.prefix === 'string' ? q.prefix.toLowerCase() : '';
    // user_role accepts alternatives separated by "|", in Connect's role names.
    const roles = typeof q.user_role === 'string' && q.user_role !== '' ? q.user_role.split('|') : undefined;
    const all = (await usersRepo.list(core.store.db))
      .map(publicUser)
      .filter((u) => !prefix || [u.username, u.first_name, u.last_name].some((n) => n.toLowerCase().startsWith(prefix)))
      .filter((u) => !roles || roles.includes(u.user_role))
      .filter((u) => q.account_status !== 'locked' || u.locked);
    return { results: all.slice((page - 1) * size, page * size), current_page: page, total: all.length };
  });

  app.get<{ Params: { guid: string } }>(`${API}/v1/users/:guid`, async (req) => {
    need(req, 'viewer');
    const guid = parseGuid(req.params.guid);
    const user = await usersRepo.byGuid(core.store.db, guid);
    if (!user) throw new AppError('NotFound', `There is no user with guid ${guid}.`, 'guid');
    return publicUser(user);
  });

  app.get<{ Querystring: Record<string, unknown> }>(`${API}/v1/groups`, async (req) => {
    need(req, 'viewer');
    return { results: [], current_page: Math.max(1, queryInt(req.query, 'page_number', 1)), total: 0 };
  });
}

