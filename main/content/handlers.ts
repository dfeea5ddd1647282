// The UI contract's content methods (shared/api.ts), over the same service as the Connect routes.
import type { ContentDetail, DeployRecord, JobSummary } from '../../shared/content';
import { AppError } from '../../shared/errors';
import type { Handlers } from '../api/handlers';
import type { Config } from '../config';
import { bundlesRepo } from '../store/bundles-repo';
import { jobsRepo } from '../store/jobs-repo';
import { tasksRepo } from '../store/tasks-repo';
import type { Store } from '../store/db';
import { presentBundle, presentContent } from './present';
import type { ContentService } from './service';

type ContentHandlers = Pick<Handlers, 'content.list' | 'content.get' | 'content.update' | 'content.deploy'>;

export function contentHandlers(service: ContentService | undefined, store: Store, config: Pick<Config, 'publicUrl'>): ContentHandlers {
  // Without a public URL the UI gets addresses relative to where it is served.
  const base = config.publicUrl?.toString() ?? '/';
  const content = service ?? unavailable();
  return {
    'content.list': async (_input, ctx) => (await content.list()).map((c) => presentContent(c, ctx, base)),
    'content.get': async ({ guid }, ctx): Promise<ContentDetail> => {
      const c = await content.get(guid);
      const bundles = await bundlesRepo.list(store.db, c.id);
      const tasks = await tasksRepo.listForContent(store.db, c.id);
      const jobs = await jobsRepo.listForContent(store.db, c.id);
      const shown = bundles.find((b) => b.id === c.bundle_id) ?? bundles[0];
      const deploys: DeployRecord[] = tasks.map((t) => ({
        task_id: t.id,
        kind: t.kind as DeployRecord['kind'],
        bundle_id: t.bundle_id === null ? null : String(t.bundle_id),
        activate: t.activate,
        actor: t.actor,
        created_time: t.created_time,
        finished: t.finished,
        code: t.code,
        error: t.error,
        last_line: t.output.at(-1) ?? '',
      }));
      const jobSummaries: JobSummary[] = jobs.map((j) => ({
        key: j.key,
        kind: j.kind,
        tag: j.tag,
        state: j.state,
        bundle_id: String(j.bundle_id),
        environment_guid: j.environment_guid,
        image: j.image,
        queued_time: j.queued_time,
        finished_time: j.finished_time,
      }));
      return {
        content: presentContent(c, ctx, base),
        bundles: bundles.map((b) => presentBundle(b, c.guid, c.bundle_id)),
        deploys,
        jobs: jobSummaries,
        manifest: shown?.manifest ?? null,
        can_edit: content.canWrite(c, ctx),
      };
    },
    'content.update': async ({ guid, changes }, ctx) => presentContent(await content.update(guid, changes, ctx), ctx, base),
    'content.deploy': async ({ guid, bundleId, activate }, ctx) => ({ task_id: (await content.deploy(guid, bundleId, activate, ctx)).id }),
  };
}

/** A core assembled without the content service (some tests build partial cores). */
function unavailable(): ContentService {
  return new Proxy({} as ContentService, {
    get: () => () => Promise.reject(new AppError('Internal', 'This core was assembled without the content service.')),
  });
}
