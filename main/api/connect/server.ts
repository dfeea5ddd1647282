// What Posit's clients ask first: the server's settings and version, the key's user, and the
// runtimes available per language (derived from the execution environments).
import type { FastifyInstance } from 'fastify';
import type { Language } from '../../../shared/environment';
import { AppError } from '../../../shared/errors';
import type { Core } from '../../core';
import { publicUser } from '../../users/users';
import { APP_VERSION } from '../../version';
import { API, need } from './common';

/**
 * The Connect version we answer with. It turns on what these routes serve for rsconnect-python
 * and posit-sdk: ≥ 2025.06.0 draft deploys with `activate`, ≥ 2025.02.0 the active bundle. It
 * stays below 2025.12.0, so rsconnect does not send git metadata by default nor ask for lockfiles.
 */
export const CONNECT_COMPATIBLE_VERSION = '2025.09.0';

/** The runtime listings Connect serves, keyed by the path segment; nodejs is the environments' `nodejs`. */
const RUNTIME_PATHS: Record<string, Language> = { r: 'r', python: 'python', quarto: 'quarto', tensorflow: 'tensorflow', nodejs: 'nodejs' };

export function registerServerRoutes(app: FastifyInstance, core: Core): void {
  app.get(`${API}/server_settings`, async () => ({
    version: CONNECT_COMPATIBLE_VERSION,
    build: `offhost-${APP_VERSION}`,
    about: `Offhost ${APP_VERSION}, serving Posit Connect's API as of ${CONNECT_COMPATIBLE_VERSION}`,
    execution_type: 'kubernetes',
    runtimes: ['R', 'Python', 'Quarto', 'TensorFlow', 'Node.js'],
  }));

  app.get(`${API}/v1/user`, async (req, reply) => {
    const user = req.caller!.user;
    // Connect's answer for a valid credential with no user behind it (rsconnect accepts it).
    if (!user) return reply.code(403).send({ code: 22, error: 'These credentials are valid but have no user (a browser session or a key made before users existed).', payload: null });
    return publicUser(user);
  });

  app.get<{ Params: { lang: string } }>(`${API}/v1/server_settings/:lang`, async (req) => {
    need(req, 'publisher');
    const lang = Object.hasOwn(RUNTIME_PATHS, req.params.lang) ? RUNTIME_PATHS[req.params.lang] : undefined;
    if (!lang) throw new AppError('EndpointNotFound', `There are no server settings for ${JSON.stringify(req.params.lang)}; ask for one of ${Object.keys(RUNTIME_PATHS).join(', ')}.`);
    const envs = (await core.environments.list()).filter((e) => e.matching !== 'none');
    const installations = envs.flatMap((e) =>
      e[lang].installations.map((i) => ({ version: i.version, cluster_name: 'Kubernetes', image_name: e.name, publishable: true })),
    );
    return lang === 'python' ? { installations, api_enabled: true } : { installations };
  });
}

