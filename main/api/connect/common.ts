// Shared pieces of the Connect-compatible routes: who is asking, what they may do, the address
// content URLs are built on, and parsing of path and query values.
import type { FastifyRequest } from 'fastify';
import { roleAllows, type Role } from '../../../shared/api';
import { AppError } from '../../../shared/errors';
import type { Core } from '../../core';
import type { CallContext } from '../handlers';

export const API = '/__api__';

export function need(req: FastifyRequest, role: Role): CallContext {
  const caller = req.caller!;
  if (!roleAllows(caller.role, role)) throw new AppError('Forbidden', `This needs the ${role} role; your key has ${caller.role}.`);
  return caller;
}

/** The address people use: OFFHOST_PUBLIC_URL, else what this request came to (ends with "/"). */
export function baseUrl(req: FastifyRequest, core: Core): string {
  return core.config.publicUrl?.toString() ?? `${req.protocol}://${req.host}/`;
}

/** A bundle id from a path or body: Connect's ids are strings of digits. */
export function parseBundleId(raw: unknown, field = 'bundle_id'): number {
  const text = typeof raw === 'number' ? String(raw) : raw;
  if (typeof text !== 'string' || !/^[1-9]\d{0,15}$/.test(text))
    throw new AppError('InvalidId', `${JSON.stringify(raw ?? null)} is not a bundle id (a positive whole number, e.g. "12").`, field);
  return Number(text);
}

/** A non-negative whole number from the query string, or the default when absent. */
export function queryInt(query: Record<string, unknown>, name: string, fallback: number): number {
  const raw = query[name];
  if (raw === undefined || raw === '') return fallback;
  if (typeof raw !== 'string' || !/^\d{1,9}$/.test(raw)) throw new AppError('InvalidRequest', `The query parameter "${name}" must be a whole number of 0 or more, not ${JSON.stringify(raw)}.`, name);
  return Number(raw);
}

/** A JSON object body (rsconnect and posit-sdk always send one); anything else is refused. */
export function objectBody(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw new AppError('InvalidRequest', 'The request body must be a JSON object.');
  return body as Record<string, unknown>;
}
