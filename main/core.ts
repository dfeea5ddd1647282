// The Node core shared by the Electron main process and the headless server: configuration,
// store, services and the handlers behind the API contract. Transports are added on top.
// Background parts start here in order and stop in reverse in close().
import type { Config } from './config';
import { EventBus } from './events';
import { PgEventRelay } from './events-pg';
import { ApiKeys } from './auth/api-keys';
import { Sessions } from './auth/session';
import { startEnvironmentsFile, type FileSync } from './environments/file-sync';
import { EnvironmentService } from './environments/service';
import { ContentService } from './content/service';
import { createHandlers, type Handlers } from './api/handlers';
import type { Logger } from './log';
import { openStore, type Store } from './store/db';
import { QuotaService } from './quotas/service';
import { LimitRangeSync } from './quotas/limit-range';
import { contentSettingsSource } from './quotas/content-link';
import { loadKube } from './kube/config';
import { Launcher } from './launcher/launcher';
import { NO_VOLUME_MESSAGE } from './launcher/execution';
import { PackageSourcesService } from './content/package-sources';
import { MountedContentVolume } from './content/volume-mounted';
import { CopiedContentVolume } from './content/volume-copied';
import type { ContentVolume } from './content/volume';
import type { Quotas } from '../shared/quota';
import type { Placement } from './kube/placement';
import { JobsService } from './launcher/jobs-service';
import { LeaderElector } from './kube/lease';
import { MetricsSampler } from './metrics/sampler';
import { MetricsService } from './metrics/service';

/** How often API keys' last-use times are written (off the request path, in one batch). */
const KEY_USE_FLUSH_MS = 30_000;

/** The content volume for the configuration, or why there is none. */
function contentVolumeOf(
  c: Config['contentVolume'],
  connect: () => ReturnType<typeof loadKube>,
  placement: Placement | undefined,
  log: Logger,
  quotas?: () => Promise<Quotas>,
): { volume: ContentVolume | null; problem: string } {
  if (c.claim === null) return { volume: null, problem: NO_VOLUME_MESSAGE };
  if (c.mountPath !== null) return { volume: new MountedContentVolume(c.mountPath, c.claim), problem: '' };
  if (c.storeImage === null)
    return {
      volume: null,
      problem: `OFFHOST_CONTENT_CLAIM is ${c.claim} but neither OFFHOST_CONTENT_VOLUME (where this server mounts it, in-cluster) nor OFFHOST_STORE_IMAGE (the store pod that fills it from a desktop) is set, so bundles cannot reach it.`,
    };
  return { volume: new CopiedContentVolume({ connect, claimName: c.claim, image: c.storeImage, ...(placement ? { placement } : {}), log, ...(quotas ? { quotas } : {}) }), problem: '' };
}

export interface Core {
  config: Config;
  log: Logger;
  store: Store;
  events: EventBus;
  environments: EnvironmentService;
  content: ContentService;
  quotas: QuotaService;
  /** Runs jobs on the cluster; undefined when no cluster is configured (jobs stay queued). */
  launcher: Launcher | undefined;
  jobs: JobsService;
  /** Where build jobs get packages (Settings → Package sources). */
  packageSources: PackageSourcesService;
  /** Processes: jobs with their CPU and memory (read from the store on every instance). */
  metrics: MetricsService;
  /** Samples metrics.k8s.io on the leader; undefined when no cluster is configured. */
  sampler: MetricsSampler | undefined;
  /** The content volume (bundles in, outputs out); undefined when none is configured. */
  volume: ContentVolume | undefined;
  apiKeys: ApiKeys;
  sessions: Sessions;
  handlers: Handlers;
  close(): Promise<void>;
}

export async function createCore(config: Config, log: Logger, mode: 'desktop' | 'server'): Promise<Core> {
  const store = await openStore(config.database, log);
  const events = new EventBus();
  // On PostgreSQL, events reach every instance sharing the database (LISTEN/NOTIFY).
  const relay = config.database.kind === 'postgres' ? new PgEventRelay({ url: config.database.url, events, log }) : undefined;
  await relay?.start();
  const environments = new EnvironmentService({ store, events });
  const quotas = new QuotaService({ store, events });
  // checkSettings is where the quota bounds apply to content settings (issue 8 part 5).
  const content = new ContentService({
    store,
    events,
    log,
    dataDir: config.dataDir,
    listEnvironments: () => environments.list(),
    limits: config.bundleLimits,
    checkSettings: (settings, { content: before, caller }) => quotas.assertContentSettings({ ...settings }, before ? { ...before.settings } : null, caller),
  });
  // The quotas' impact preview looks at every content item's settings.
  quotas.setContentSource(contentSettingsSource(content));
  const apiKeys = new ApiKeys(store.db);
  const sessions = new Sessions(store.db);
  let fileSync: FileSync | undefined;
  try {
    // Applies the configured file, and releases environments that a previously configured one managed.
    fileSync = await startEnvironmentsFile(config.environmentsFile, environments, log);
  } catch (e) {
    await relay?.stop();
    await store.close();
    throw e;
  }
  // Deploys a stopped server left before their jobs were queued would otherwise wait forever.
  await content.recoverInterrupted().catch((err: Error) => log.warn({ err: { message: err.message } }, 'could not finish interrupted deploys'));
  const flushKeyUse = () => apiKeys.flush().catch((err: Error) => log.warn({ err: { message: err.message } }, 'could not record API key use; will retry'));
  const keyUseTimer = setInterval(flushKeyUse, KEY_USE_FLUSH_MS).unref();
  // The quotas' LimitRange mirror, when a cluster is configured. start() returns at once: an
  // unreachable cluster or bad kubeconfig is logged and retried, never a failed start.
  const kubeConfig = config.kube;
  const limitRange = kubeConfig ? new LimitRangeSync({ connect: () => loadKube(kubeConfig), quotas: () => quotas.current(), events, log }) : undefined;
  if (limitRange) quotas.setMirror(limitRange);
  limitRange?.start();
  // The launcher, likewise: it starts at once and retries a cluster it cannot reach.
  // The content volume jobs run from (README "How content runs"): mounted in-cluster, copied
  // through the store pod on a desktop; none without OFFHOST_CONTENT_CLAIM (jobs then fail, saying so).
  const packageSources = new PackageSourcesService(store);
  const volume = kubeConfig ? contentVolumeOf(config.contentVolume, () => loadKube(kubeConfig), kubeConfig.placement, log, () => quotas.current()) : { volume: null, problem: NO_VOLUME_MESSAGE };
  try {
    await volume.volume?.start?.();
  } catch (e) {
    // Jobs fail with this until it is fixed and the server restarted; the rest of the app works.
    volume.volume = null;
    volume.problem = `The content volume cannot be used: ${(e as Error).message}`;
  }
  if (kubeConfig && !volume.volume) log.warn(`content volume: ${volume.problem}`);
  else if (volume.volume) log.info({ mode: volume.volume.mode, claim: volume.volume.claimName }, `content volume: ${volume.volume.mode} mode, claim ${volume.volume.claimName}`);
  const launcher = kubeConfig
    ? new Launcher({
        store,
        events,
        tasks: content.tasks,
        log,
        connect: () => loadKube(kubeConfig),
        quotas: () => quotas.current(),
        options: kubeConfig.placement ? { placement: kubeConfig.placement } : {},
        execution: {
          volume: volume.volume,
          noVolumeMessage: volume.problem,
          archiveOf: (sha) => content.bundles.pathOf(sha),
          environment: (guid) => environments.get(guid).catch(() => undefined),
          packageSources: () => packageSources.get(),
        },
      })
    : undefined;
  // The metrics sampler (main/metrics/) reads metrics.k8s.io once per interval into the store.
  const sampler = kubeConfig ? new MetricsSampler({ store, events, log, connect: () => loadKube(kubeConfig), options: config.metrics }) : undefined;
  // Several instances may share the database: only the holder of the Lease runs the launcher and
  // the sampler (so samples are taken once); every instance serves them from the store.
  const elector = launcher
    ? new LeaderElector({
        connect: () => loadKube(kubeConfig!),
        log,
        onLeading: () => {
          launcher.start();
          sampler?.start();
        },
        onStopped: async () => {
          await sampler?.stop();
          await launcher.stop();
        },
      })
    : undefined;
  if (elector) elector.start();
  else log.info('no cluster configured: deployed jobs stay queued. Set OFFHOST_KUBECONFIG (or KUBECONFIG) and OFFHOST_NAMESPACE to run content on Kubernetes.');
  const jobs = new JobsService({ store, content, events, launcher });
  const metrics = new MetricsService({ store, content, quotas: () => quotas.current(), options: config.metrics, configured: kubeConfig !== null });
  const parts = { config, log, store, events, environments, content, quotas, launcher, jobs, metrics, sampler, apiKeys, sessions, packageSources };
  return {
    ...parts,
    volume: volume.volume ?? undefined,
    handlers: createHandlers({ ...parts, volume: volume.volume ?? undefined }, mode),
    async close() {
      await elector?.stop();
      await sampler?.stop();
      await launcher?.stop();
      await volume.volume?.stop?.();
      await limitRange?.stop();
      fileSync?.close();
      clearInterval(keyUseTimer);
      await flushKeyUse();
      await content.close();
      await relay?.stop();
      await store.close();
    },
  };
}
