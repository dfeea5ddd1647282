// The one contract between the UI and the core. Each method names the role it needs and parses
// its own input (throwing an AppError that names the bad field). The Electron IPC bridge and the
// headless server's HTTP transport both dispatch through this table; nothing else crosses.
import { z } from 'zod';
import {
  parseEnvironmentSpec,
  parseEnvironmentUpdate,
  type Environment,
  type EnvironmentSpecInput,
  type EnvironmentUpdate,
  type EnvironmentUpdateInput,
} from './environment';
import { parseContentChanges, parseDeployInput, type Bundle, type Content, type ContentChanges, type ContentDetail, type DeployInput, type JobState } from './content';
import { AppError } from './errors';
import type { ConnectionReport, NoConnection } from './cluster';
import { parseJobKey, parseMaxLines, type JobEvent, type JobLog, type JobView } from './jobs';
import { parseManifest, type ContentDefaults, type Manifest } from './manifest';
import {
  parseJobMetricsInput,
  parseProcessesListInput,
  type JobMetrics,
  type JobMetricsInput,
  type ProcessesListInput,
  type ProcessesMetricsEvent,
  type ProcessList,
  type ProcessSummary,
} from './processes';
import {
  parseQuotasHistoryInput,
  parseQuotasPreviewInput,
  parseQuotasUpdateInput,
  type QuotaChange,
  type QuotaPreview,
  type QuotaSaveResult,
  type QuotasInput,
  type QuotasView,
} from './quota';
import { STRATEGIES, type Selection, type SelectionOptions } from './selection';
import { parsePackageSources, type PackageSources } from './package-sources';
import { parseWith, quote } from './validation';

export const ROLES = ['viewer', 'publisher', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export function roleAllows(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}

interface MethodDef<In, Parsed, Out> {
  role: Role;
  parse: (raw: unknown) => Parsed;
  /** Phantom fields that carry the caller's input and the result types. */
  _in?: In;
  _out?: Out;
}

function method<In, Out>() {
  return <Parsed>(def: { role: Role; parse: (raw: unknown) => Parsed }): MethodDef<In, Parsed, Out> => def;
}

const none = (raw: unknown): void => {
  if (raw !== undefined && raw !== null && !(typeof raw === 'object' && Object.keys(raw).length === 0))
    throw new AppError('InvalidRequest', 'This method takes no input.');
};

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export function parseGuid(raw: unknown, field = 'guid'): string {
  if (typeof raw !== 'string' || !GUID.test(raw))
    throw new AppError('InvalidId', `${quote(raw ?? null)} is not a valid guid (expected e.g. 3f9a6c1e-0b7d-4e52-9a3c-2d1f0e8b7a65).`, field);
  return raw.toLowerCase();
}

function objectInput(raw: unknown): Record<string, unknown> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new AppError('InvalidRequest', 'The input must be an object.');
  return raw as Record<string, unknown>;
}

function onlyKeys(obj: Record<string, unknown>, allowed: string[]): void {
  const extra = Object.keys(obj).find((k) => !allowed.includes(k));
  if (extra !== undefined) throw new AppError('InvalidRequest', `Unknown field "${extra}".`, extra);
}

/** Input that is just { guid }. */
function guidInput(raw: unknown): { guid: string } {
  const o = objectInput(raw);
  onlyKeys(o, ['guid']);
  return { guid: parseGuid(o.guid) };
}

function jobInput(raw: unknown): { guid: string; key: string } {
  const o = objectInput(raw);
  onlyKeys(o, ['guid', 'key']);
  return { guid: parseGuid(o.guid), key: parseJobKey(o.key) };
}

const selectInputSchema = z.strictObject({
  manifest: z.unknown(),
  content: z
    .strictObject({ default_environment_guid: z.string().nullish(), default_image_name: z.string().nullish() })
    .optional(),
  versionMatching: z
    .strictObject({ r: z.enum(STRATEGIES).optional(), python: z.enum(STRATEGIES).optional(), quarto: z.enum(STRATEGIES).optional(), nodejs: z.enum(STRATEGIES).optional() })
    .optional(),
});

export interface SelectInput {
  /** The manifest as an object, or the text of manifest.json. */
  manifest: unknown;
  content?: ContentDefaults;
  versionMatching?: SelectionOptions['versionMatching'];
}

/** The largest archive content.uploadBundle takes (its base64 text is a third longer). */
export const UPLOAD_BUNDLE_MAX_BYTES = 64 * 1024 * 1024;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function parseUploadBundleInput(raw: unknown): { guid: string; archive: string } {
  const o = objectInput(raw);
  onlyKeys(o, ['guid', 'archive']);
  const guid = parseGuid(o.guid);
  const a = o.archive;
  if (typeof a !== 'string' || a.length === 0 || a.length % 4 !== 0 || !BASE64.test(a))
    throw new AppError('InvalidRequest', '"archive" must be the bundle (a .tar.gz) as base64 text.', 'archive');
  const bytes = (a.length / 4) * 3 - (a.endsWith('==') ? 2 : a.endsWith('=') ? 1 : 0);
  if (bytes > UPLOAD_BUNDLE_MAX_BYTES)
    throw new AppError('BundleTooLarge', `The bundle is ${bytes} bytes; this method takes at most ${UPLOAD_BUNDLE_MAX_BYTES} (64 MiB). Upload larger bundles with rsconnect or POST /__api__/v1/content/{guid}/bundles.`, 'archive');
  return { guid, archive: a };
}

export interface ImportResult {
  created: string[];
  updated: string[];
  unchanged: string[];
}

export interface AppInfo {
  version: string;
  mode: 'desktop' | 'server';
  database: { kind: 'sqlite' | 'postgres'; location: string };
  environmentsFile: string | null;
  user: { name: string; role: Role };
}

export const api = {
  'app.info': method<void, AppInfo>()({ role: 'viewer', parse: none }),

  'environments.list': method<void, Environment[]>()({ role: 'publisher', parse: none }),
  'environments.get': method<{ guid: string }, Environment>()({ role: 'publisher', parse: guidInput }),
  'environments.create': method<EnvironmentSpecInput, Environment>()({ role: 'admin', parse: parseEnvironmentSpec }),
  'environments.update': method<{ guid: string; spec: EnvironmentUpdateInput }, Environment>()({
    role: 'admin',
    parse: (raw): { guid: string; spec: EnvironmentUpdate } => {
      const o = objectInput(raw);
      onlyKeys(o, ['guid', 'spec']);
      return { guid: parseGuid(o.guid), spec: parseEnvironmentUpdate(o.spec) };
    },
  }),
  'environments.delete': method<{ guid: string }, void>()({ role: 'admin', parse: guidInput }),
  'environments.exportYaml': method<void, { yaml: string }>()({ role: 'publisher', parse: none }),
  'environments.importYaml': method<{ yaml: string }, ImportResult>()({
    role: 'admin',
    parse: (raw) => parseWith(z.strictObject({ yaml: z.string().max(5_000_000) }), raw),
  }),
  'environments.select': method<SelectInput, Selection>()({
    role: 'publisher',
    parse: (raw): { manifest: Manifest; content: ContentDefaults; options: SelectionOptions } => {
      const input = parseWith(selectInputSchema, raw);
      let manifest = input.manifest;
      if (typeof manifest === 'string') {
        try {
          manifest = JSON.parse(manifest);
        } catch (e) {
          throw new AppError('InvalidManifest', `manifest.json is not valid JSON: ${(e as Error).message}`, 'manifest');
        }
      }
      return { manifest: parseManifest(manifest), content: input.content ?? {}, options: { versionMatching: input.versionMatching } };
    },
  }),

  // Content (shared/content.ts) in Connect's shapes. Scripts upload bundles over HTTP
  // (POST /__api__/v1/content/{guid}/bundles), where the archive is streamed; the browser UI does
  // too. content.uploadBundle is for the desktop app, which has no HTTP server: the archive
  // crosses IPC as base64 text (JSON-representable, so the method means the same on every
  // transport), capped at UPLOAD_BUNDLE_MAX_BYTES.
  'content.list': method<void, Content[]>()({ role: 'viewer', parse: none }),
  'content.create': method<ContentChanges & { name: string }, Content>()({
    role: 'publisher',
    parse: (raw) => parseContentChanges(raw, { requireName: true }),
  }),
  'content.uploadBundle': method<{ guid: string; archive: string }, Bundle>()({ role: 'publisher', parse: parseUploadBundleInput }),
  'content.get': method<{ guid: string }, ContentDetail>()({ role: 'viewer', parse: guidInput }),
  'content.update': method<{ guid: string; changes: ContentChanges }, Content>()({
    role: 'publisher',
    parse: (raw): { guid: string; changes: ContentChanges } => {
      const o = objectInput(raw);
      onlyKeys(o, ['guid', 'changes']);
      return { guid: parseGuid(o.guid), changes: parseContentChanges(o.changes) };
    },
  }),
  'content.deploy': method<DeployInput, { task_id: string }>()({ role: 'publisher', parse: parseDeployInput }),

  // The launcher's jobs of one content item (shared/jobs.ts): who may read its content may not
  // necessarily change it, so these ask for the publisher role and the service checks ownership.
  'jobs.list': method<{ guid: string }, JobView[]>()({ role: 'publisher', parse: guidInput }),
  'jobs.get': method<{ guid: string; key: string }, JobView>()({ role: 'publisher', parse: jobInput }),
  'jobs.cancel': method<{ guid: string; key: string }, JobView>()({ role: 'publisher', parse: jobInput }),
  // The Kubernetes Events of the job's Job and pod ([] without a cluster or once they are gone).
  'jobs.events': method<{ guid: string; key: string }, JobEvent[]>()({ role: 'publisher', parse: jobInput }),
  'jobs.log': method<{ guid: string; key: string; maxLines?: number }, JobLog>()({
    role: 'publisher',
    parse: (raw) => {
      const o = objectInput(raw);
      onlyKeys(o, ['guid', 'key', 'maxLines']);
      return { guid: parseGuid(o.guid), key: parseJobKey(o.key), maxLines: parseMaxLines(o.maxLines) };
    },
  }),

  // A job's CPU and memory history (shared/processes.ts), for its content's publishers.
  'jobs.metrics': method<JobMetricsInput, JobMetrics>()({ role: 'publisher', parse: (raw) => parseJobMetricsInput(raw, parseGuid) }),

  // Processes (shared/processes.ts): every content's jobs with live usage, for admins.
  'processes.list': method<ProcessesListInput | void, ProcessList>()({ role: 'admin', parse: parseProcessesListInput }),
  'processes.summary': method<void, ProcessSummary>()({ role: 'admin', parse: none }),

  // The configured cluster (shared/cluster.ts): version, each needed permission, metrics.
  'cluster.test': method<void, ConnectionReport | NoConnection>()({ role: 'admin', parse: none }),

  // Where build jobs get packages (shared/package-sources.ts): publishers read them (a failed
  // restore names them), admins change them (Settings page).
  'settings.packageSources.get': method<void, PackageSources>()({ role: 'publisher', parse: none }),
  'settings.packageSources.update': method<PackageSources, PackageSources>()({ role: 'admin', parse: parsePackageSources }),

  // Execution-settings bounds (shared/quota.ts): publishers read them (the content form shows each
  // range), admins change them. CPU in cores, memory in bytes; inputs may be quantities ("512Mi").
  'quotas.get': method<void, QuotasView>()({ role: 'publisher', parse: none }),
  'quotas.preview': method<{ quotas: QuotasInput }, QuotaPreview>()({ role: 'admin', parse: parseQuotasPreviewInput }),
  'quotas.update': method<{ quotas: QuotasInput; version?: number }, QuotaSaveResult>()({ role: 'admin', parse: parseQuotasUpdateInput }),
  'quotas.history': method<{ limit?: number } | void, QuotaChange[]>()({ role: 'publisher', parse: parseQuotasHistoryInput }),
};

export type Api = typeof api;
export type MethodName = keyof Api;
export type MethodInput<M extends MethodName> = Api[M] extends MethodDef<infer I, unknown, unknown> ? I : never;
export type MethodOutput<M extends MethodName> = Api[M] extends MethodDef<unknown, unknown, infer O> ? O : never;
export type ParsedInput<M extends MethodName> = ReturnType<Api[M]['parse']>;

export function isMethodName(name: unknown): name is MethodName {
  return typeof name === 'string' && Object.hasOwn(api, name);
}

/** Events pushed from the core to every connected UI. */
export interface ApiEvents {
  'environments.changed': { action: 'created' | 'updated' | 'deleted' | 'imported' | 'synced'; guids: string[] };
  'content.changed': { action: 'created' | 'updated' | 'deleted' | 'deployed'; guids: string[] };
  'quotas.changed': { version: number };
  /** A job moved (the launcher wrote its row): refetch that content's jobs. */
  'jobs.changed': { content_guid: string; key: string; state: JobState };
  /** Once per metrics cycle: the Processes rows whose usage changed (shared/processes.ts). */
  'processes.metrics': ProcessesMetricsEvent;
  /** Raised by a transport, not the core: the event stream was interrupted, so refetch what you show. */
  'events.resync': Record<string, never>;
}
export type EventName = keyof ApiEvents;
/** The events the core pushes (events.resync is the transport's own), each with the role needed to
 *  receive it: the role that may read what it announces. */
export const EVENT_ROLES: Partial<Record<EventName, Role>> = {
  'environments.changed': 'publisher',
  'content.changed': 'publisher',
  'quotas.changed': 'publisher',
  'jobs.changed': 'publisher',
  'processes.metrics': 'admin',
};
export const EVENT_NAMES = Object.keys(EVENT_ROLES) as EventName[];

/** What the preload bridge exposes as window.offhost, and what the HTTP client implements too. */
export interface Transport {
  call<M extends MethodName>(method: M, input: MethodInput<M>): Promise<MethodOutput<M>>;
  subscribe<E extends EventName>(event: E, listener: (payload: ApiEvents[E]) => void): () => void;
}

