// Before a job's Kubernetes objects are made: what its pod will run and see. The bundle is put on
// the content volume (extracted once per hash), the directories the job writes are made, the
// selected environment's installations and the bundle's manifest decide the script
// (main/kube/commands.ts), and the package library's key is taken from the lock files. Every
// outcome is in words: a job that cannot run (no content volume, no interpreter, an app mode we
// cannot run) fails here with the reason, before any pod exists.
import type { AppMode, JobKind } from '../../shared/content';
import type { Environment } from '../../shared/environment';
import type { Manifest } from '../../shared/manifest';
import type { PackageSources } from '../../shared/package-sources';
import { selectEnvironment } from '../../shared/selection';
import { readMembers } from '../content/bundle-members';
import { volumeLayout, type ContentVolume } from '../content/volume';
import { jobCommand, languagesOf, libraryKey, type ExecSpec, type RPackage } from '../kube/commands';
import type { PodExecution } from '../kube/manifests';
import type { BundleRecord } from '../store/bundles-repo';

export interface ExecutionDeps {
  /** null: no content volume is configured (OFFHOST_CONTENT_CLAIM unset): jobs fail, saying so. */
  volume: ContentVolume | null;
  /** The stored archive of a bundle (BundleStore.pathOf). */
  archiveOf: (sha256: string) => string;
  environment: (guid: string) => Promise<Environment | undefined>;
  packageSources: () => Promise<PackageSources>;
}

export interface ExecutionJob {
  id: number;
  kind: JobKind;
  environment_guid: string;
}

export type Prepared = { ok: true; execution: PodExecution; libraryKey: string } | { ok: false; reason: string; message: string };

export const NO_VOLUME_MESSAGE =
  'No content volume is configured, so the job has no way to receive its bundle or keep its packages and output. ' +
  'Set OFFHOST_CONTENT_CLAIM to a PersistentVolumeClaim in the launcher namespace (ReadWriteMany when jobs may run on several nodes), ' +
  'and, when this server runs in the cluster with that claim mounted, OFFHOST_CONTENT_VOLUME to where it is mounted (README: How content runs).';

/** The Python package file the manifest names (python.package_manager.package_file), else requirements.txt. */
export function pythonPackageFile(manifest: Record<string, unknown>): string {
  const py = manifest.python as { package_manager?: { package_file?: unknown }; package_file?: unknown } | undefined;
  const named = py?.package_manager?.package_file ?? py?.package_file;
  return typeof named === 'string' && named.trim() !== '' && !named.includes('..') && !named.startsWith('/') ? named.trim() : 'requirements.txt';
}

/** R packages from renv.lock's "Packages", else the manifest's "packages" (as rsconnect writes them). */
export function rPackagesOf(manifest: Record<string, unknown>, renvLock: string | undefined): RPackage[] {
  const out: RPackage[] = [];
  const NAME = /^[A-Za-z][A-Za-z0-9.]*$/;
  const add = (name: unknown, version: unknown) => {
    if (typeof name === 'string' && NAME.test(name) && !out.some((p) => p.name === name))
      out.push({ name, version: typeof version === 'string' && /^[0-9][0-9.-]*$/.test(version) ? version : null });
  };
  if (renvLock !== undefined) {
    try {
      const lock = JSON.parse(renvLock) as { Packages?: Record<string, { Package?: unknown; Version?: unknown }> };
      for (const [name, p] of Object.entries(lock.Packages ?? {})) add(p?.Package ?? name, p?.Version);
      return out.sort((a, b) => a.name.localeCompare(b.name));
    } catch {
      // an unreadable lock: fall back to the manifest's list
    }
  }
  const pkgs = manifest.packages as Record<string, { description?: { Package?: unknown; Version?: unknown } }> | undefined;
  if (pkgs && typeof pkgs === 'object') for (const [name, p] of Object.entries(pkgs)) add(p?.description?.Package ?? name, p?.description?.Version);
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** The selected environment's installation for each language the bundle needs (the deploy's own selection, again). */
function installations(manifest: Manifest, env: Environment): { ok: true; python: string | null; r: string | null; quarto: string | null } | { ok: false; message: string } {
  // Ask the selector about this environment alone, as if the content named it.
  const only = { ...env, matching: 'exact' as const };
  const { identifier: _i, image: _m, ...rest } = manifest.environment ?? {};
  const sel = selectEnvironment({ ...manifest, environment: rest }, [only], { default_environment_guid: env.guid });
  if (!sel.ok) return { ok: false, message: `The environment ${env.title} (${env.name}) no longer fits this bundle: ${sel.summary}` };
  const path = (lang: string) => sel.matches.find((m) => m.language === lang)?.installation.path ?? null;
  // A language the manifest did not ask a version of: the environment's newest, if any.
  const newest = (lang: 'python' | 'r' | 'quarto') => path(lang) ?? [...env[lang].installations].sort((a, b) => b.version.localeCompare(a.version, undefined, { numeric: true }))[0]?.path ?? null;
  return { ok: true, python: newest('python'), r: newest('r'), quarto: newest('quarto') };
}

/**
 * Get a job ready to run: its bundle on the content volume, its directories, its script. `say`
 * gets progress lines for the deploy task.
 */
export async function prepareExecution(deps: ExecutionDeps, job: ExecutionJob, content: { guid: string; app_mode: AppMode }, bundle: BundleRecord, say: (line: string) => void): Promise<Prepared> {
  const volume = deps.volume;
  if (!volume) return { ok: false, reason: 'NoContentVolume', message: NO_VOLUME_MESSAGE };
  const env = await deps.environment(job.environment_guid);
  if (!env) return { ok: false, reason: 'EnvironmentDeleted', message: `The environment ${job.environment_guid} this job was queued for no longer exists; deploy again to choose another.` };
  const manifest = bundle.manifest as Manifest & Record<string, unknown>;
  const inst = installations(manifest, env);
  if (!inst.ok) return { ok: false, reason: 'EnvironmentMismatch', message: inst.message };
  const mode = bundle.app_mode;
  const languages = languagesOf(mode, manifest as { python?: unknown; platform?: unknown; quarto?: { engines?: unknown } });
  const archive = deps.archiveOf(bundle.sha256);
  const packageFile = pythonPackageFile(manifest);
  const members = await readMembers(archive, [packageFile, 'renv.lock']);
  const renvLock = members.get('renv.lock');
  const rPackages = languages.includes('r') ? rPackagesOf(manifest, renvLock) : [];
  const key = libraryKey({
    environmentGuid: env.guid,
    python: languages.includes('python') ? inst.python : null,
    r: languages.includes('r') ? inst.r : null,
    pythonLock: languages.includes('python') ? (members.get(packageFile) ?? '') : null,
    rLock: languages.includes('r') ? (renvLock ?? JSON.stringify(rPackages)) : null,
  });
  const meta = (manifest.metadata ?? {}) as Record<string, unknown>;
  const text = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : null);
  const jupyter = (manifest.jupyter ?? {}) as Record<string, unknown>;
  const spec: ExecSpec = {
    kind: job.kind,
    mode,
    entrypoint: text(meta.entrypoint),
    primaryDocument: text(meta.primary_rmd) ?? text(meta.primary_html),
    python: inst.python,
    r: inst.r,
    quarto: inst.quarto,
    languages,
    pythonPackageFile: packageFile,
    hasRenvLock: renvLock !== undefined,
    rPackages,
    hideAllInput: jupyter.hide_all_input === true,
    hideTaggedInput: jupyter.hide_tagged_input === true,
    supervisor: env.supervisor,
    sources: await deps.packageSources(),
    libraryKey: key,
  };
  const command = jobCommand(spec);
  if (!command.ok) return { ok: false, reason: command.reason, message: command.message };
  await volume.ensureBundle(bundle.sha256, archive, say);
  const library = volumeLayout.library(content.guid, key);
  const output = job.kind === 'render' ? volumeLayout.output(job.id) : null;
  await volume.ensureWritable([library, ...(output ? [output] : [])]);
  return {
    ok: true,
    libraryKey: key,
    execution: {
      claimName: volume.claimName,
      bundleSubPath: volumeLayout.bundle(bundle.sha256),
      librarySubPath: library,
      outputSubPath: output,
      command: command.command,
      environmentMounts: env.volume_mounts,
    },
  };
}
