// The contract's gatekeeper: method names, roles and input parsing happen before any handler runs.
import { describe, expect, it, vi } from 'vitest';
import { dispatch, type Handlers } from '../../main/api/handlers';
import { api, roleAllows } from '../../shared/api';
import { AppError } from '../../shared/errors';

function fakeHandlers() {
  const calls: [string, unknown][] = [];
  const handlers = new Proxy({} as Handlers, {
    get: (_t, name: string) => vi.fn(async (input: unknown) => calls.push([name, input])),
  });
  return { handlers, calls };
}

async function error(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (e) {
    return e as AppError;
  }
  throw new Error('expected an error');
}

describe('dispatch', () => {
  const admin = { actor: 't', role: 'admin' as const };

  it('rejects unknown methods, including inherited property names', async () => {
    const { handlers, calls } = fakeHandlers();
    for (const name of ['nope', 'toString', '__proto__', 42]) expect((await error(dispatch(handlers, name, {}, admin))).code).toBe('EndpointNotFound');
    expect(calls).toEqual([]);
  });

  it('checks the role before parsing or running anything', async () => {
    const { handlers, calls } = fakeHandlers();
    const e = await error(dispatch(handlers, 'environments.create', { bogus: true }, { actor: 't', role: 'publisher' }));
    expect([e.code, e.message]).toEqual(['Forbidden', 'This needs the admin role; you have publisher.']);
    expect((await error(dispatch(handlers, 'environments.list', undefined, { actor: 't', role: 'viewer' }))).code).toBe('Forbidden');
    expect(calls).toEqual([]);
  });

  it('hands the handler parsed input, and nothing when parsing fails', async () => {
    const { handlers, calls } = fakeHandlers();
    await dispatch(handlers, 'environments.get', { guid: '3F9A6C1E-0B7D-4E52-9A3C-2D1F0E8B7A65' }, admin);
    expect(calls).toEqual([['environments.get', { guid: '3f9a6c1e-0b7d-4e52-9a3c-2d1f0e8b7a65' }]]);
    expect((await error(dispatch(handlers, 'environments.get', { guid: 'x' }, admin))).code).toBe('InvalidId');
    expect((await error(dispatch(handlers, 'environments.get', { guid: '3f9a6c1e-0b7d-4e52-9a3c-2d1f0e8b7a65', more: 1 }, admin))).field).toBe('more');
    expect((await error(dispatch(handlers, 'environments.list', { unexpected: 1 }, admin))).message).toMatch(/takes no input/);
    expect((await error(dispatch(handlers, 'environments.update', { guid: '3f9a6c1e-0b7d-4e52-9a3c-2d1f0e8b7a65', spec: { title: '' } }, admin))).field).toBe('title');
    expect(calls).toHaveLength(1);
  });

  it('every method names a role, and roles are ordered', () => {
    for (const def of Object.values(api)) expect(['viewer', 'publisher', 'admin']).toContain(def.role);
    expect(roleAllows('admin', 'publisher')).toBe(true);
    expect(roleAllows('viewer', 'publisher')).toBe(false);
  });
});
