// The implementation of shared/api.ts. Transports call dispatch(); it checks the method, the
// caller's role and the input before a handler runs.
import { Readable } from 'node:stream';
import { api, isMethodName, roleAllows, type AppInfo, type MethodName, type MethodOutput, type ParsedInput, type Role } from '../../shared/api';
import { AppError } from '../../shared/errors';
import { describeDatabase } from '../config';
import type { Core } from '../core';
import { contentHandlers } from '../content/handlers';
import { presentBundle, presentContent } from '../content/present';
import type { UserRecord } from '../users/users';
import { loadKube } from '../kube/config';
import { testConnection } from '../kube/check';
import { neededPermissions } from '../kube/permissions';
import { jobView } from './job-view';
import { metricsHandlers } from '../metrics/handlers';
import { APP_VERSION } from '../version';
import { PackageSourcesService } from '../content/package-sources';

export interface CallContext {
  /** Who is asking, for the audit log: "session #4 (signed in by server start)", "desktop:alice", "api-key:ci (#3)". */
  actor: string;
  role: Role;
  /** The browser session behind the call, if any (so it can sign out). */
  session?: number;
  /** The user an API key acts for (browser sessions have none yet). */
  user?: UserRecord;
}

export type Handlers = {
  [M in MethodName]: (input: ParsedInput<M>, ctx: CallContext) => Promise<MethodOutput<M>>;
};

/** `content` may be left out by tests that exercise other parts; its methods then say so. */
export function createHandlers(
  core: Pick<Core, 'config' | 'store' | 'environments' | 'quotas'> & Partial<Pick<Core, 'content' | 'jobs' | 'metrics' | 'packageSources' | 'volume'>>,
  mode: AppInfo['mode'],
): Handlers {
  const envs = core.environments;
  // Without a public URL the UI gets addresses relative to where it is served.
  const base = core.config.publicUrl?.toString() ?? '/';
  const contentService = () => {
    if (!core.content) throw new AppError('Internal', 'This core was assembled without the content service.');
    return core.content;
  };
  const packageSources = () => core.packageSources ?? new PackageSourcesService(core.store);
  return {
    'app.info': async (_input, ctx) => ({
      version: APP_VERSION,
      mode,
      database: { kind: core.store.dialect, location: describeDatabase(core.config.database) },
      environmentsFile: core.config.environmentsFile,
      user: { name: ctx.actor, role: ctx.role },
    }),
    'environments.list': () => envs.list(),
    'environments.get': ({ guid }) => envs.get(guid),
    'environments.create': (spec, ctx) => envs.create(spec, ctx.actor),
    'environments.update': ({ guid, spec }, ctx) => envs.update(guid, spec, ctx.actor),
    'environments.delete': ({ guid }, ctx) => envs.remove(guid, ctx.actor),
    'environments.exportYaml': async () => ({ yaml: await envs.exportYaml() }),
    'environments.importYaml': ({ yaml }, ctx) => envs.importYaml(yaml, ctx.actor),
    'environments.select': ({ manifest, content, options }) => envs.select(manifest, content, options),
    ...contentHandlers(core.content, core.store, core.config),
    'content.create': async (changes, ctx) => presentContent(await contentService().create(changes, ctx), ctx, base),
    'content.uploadBundle': async ({ guid, archive }, ctx) => {
      const svc = contentService();
      const bundle = await svc.uploadBundle(guid, Readable.from([Buffer.from(archive, 'base64')]), {}, ctx);
      return presentBundle(bundle, guid, (await svc.get(guid)).bundle_id);
    },
    ...jobHandlers(core.content, core.jobs),
    ...metricsHandlers(core.metrics),
    'cluster.test': async () => {
      const settings = core.config.kube;
      if (!settings) return { ok: false, configured: false, message: 'No cluster is configured. Set OFFHOST_KUBECONFIG (or KUBECONFIG) to a kubeconfig, and OFFHOST_NAMESPACE to the namespace content runs in, then restart Offhost.' };
      let conn;
      try {
        conn = loadKube(settings);
      } catch (e) {
        return { ok: false, configured: true, message: (e as Error).message };
      }
      // Desktop extras: the store pod (copied content volume) and the API server's service proxy.
      return testConnection(conn, undefined, neededPermissions({ volume: core.volume?.mode ?? null, proxy: settings.source.kind === 'in-cluster' ? 'direct' : 'apiserver' }));
    },
    'settings.packageSources.get': () => packageSources().get(),
    'settings.packageSources.update': (sources, ctx) => packageSources().update(sources, ctx.actor),
    'quotas.get': () => core.quotas.view(),
    'quotas.preview': ({ quotas }) => core.quotas.preview(quotas),
    'quotas.update': ({ quotas, version }, ctx) => core.quotas.update(quotas, version, ctx.actor),
    'quotas.history': ({ limit }) => core.quotas.history(limit),
  };
}

export async function dispatch(handlers: Handlers, method: unknown, raw: unknown, ctx: CallContext): Promise<unknown> {
  if (!isMethodName(method)) throw new AppError('EndpointNotFound', `There is no API method ${JSON.stringify(method)}.`);
  const def = api[method];
  if (!roleAllows(ctx.role, def.role)) throw new AppError('Forbidden', `This needs the ${def.role} role; you have ${ctx.role}.`);
  const input = def.parse(raw);
  const handler = handlers[method] as (input: unknown, ctx: CallContext) => Promise<unknown>;
  return handler(input, ctx);
}

/** jobs.*: thin adapters over the content service (permissions) and the jobs service (cancel, log, events). */
function jobHandlers(content: Core['content'] | undefined, jobs: Core['jobs'] | undefined): Pick<Handlers, 'jobs.list' | 'jobs.get' | 'jobs.cancel' | 'jobs.log' | 'jobs.events'> {
  const need = () => {
    if (!content || !jobs) throw new AppError('Internal', 'This core was assembled without the jobs service.');
    return { content, jobs };
  };
  return {
    'jobs.list': async ({ guid }, ctx) => (await need().content.jobs(guid, ctx)).jobs.map(jobView),
    'jobs.get': async ({ guid, key }, ctx) => jobView((await need().content.job(guid, key, ctx)).job),
    'jobs.cancel': async ({ guid, key }, ctx) => jobView((await need().jobs.cancel(guid, key, ctx)).job),
    'jobs.log': async ({ guid, key, maxLines }, ctx) => {
      const log = await need().jobs.log(guid, key, ctx, maxLines);
      return { lines: log.entries.map((e) => e.data), truncated: log.truncated, source: log.source };
    },
    'jobs.events': ({ guid, key }, ctx) => need().jobs.kubeEvents(guid, key, ctx),
  };
}
