// Content as Posit Connect's v1 API has it: field names, units (CPU in cores, memory in bytes,
// timeouts in seconds) and app modes, plus the validation of the settings a person may write.
// Quota bounds (global min/max) are not checked here: they are the quotas module's, applied by
// the content service through its `checkSettings` hook.
import { z } from 'zod';
import { AppError, type ErrorCode } from './errors';
import { issuesToError, quote, type PathSegment } from './validation';

/** Connect's app modes with their v0 ordinals (rsconnect looks a mode up by ordinal). */
export const APP_MODES = {
  unknown: 0,
  shiny: 1,
  'rmd-shiny': 2,
  'rmd-static': 3,
  static: 4,
  api: 5,
  'tensorflow-saved-model': 6,
  'jupyter-static': 7,
  'python-api': 8,
  'python-dash': 9,
  'python-streamlit': 10,
  'python-bokeh': 11,
  'python-fastapi': 12,
  'quarto-shiny': 13,
  'quarto-static': 14,
  'python-shiny': 15,
  'jupyter-voila': 16,
  'python-gradio': 17,
  'python-panel': 18,
  nodejs: 20,
} as const;
export type AppMode = keyof typeof APP_MODES;
/** Modes a bundle may declare: every known one but "unknown" (which means "not deployed"). */
export const DEPLOYABLE_APP_MODES = (Object.keys(APP_MODES) as AppMode[]).filter((m) => m !== 'unknown');
/** Aliases manifests use for a mode. */
const APP_MODE_ALIASES: Record<string, AppMode> = { 'nodejs-api': 'nodejs' };

export function normaliseAppMode(mode: string): AppMode | undefined {
  if (Object.hasOwn(APP_MODES, mode)) return mode as AppMode;
  return Object.hasOwn(APP_MODE_ALIASES, mode) ? APP_MODE_ALIASES[mode] : undefined;
}

/** Documents are rendered once per deploy; everything else is a process that serves requests. */
export const RENDERED_APP_MODES: readonly AppMode[] = ['rmd-static', 'jupyter-static', 'quarto-static', 'static'];
export function isRendered(mode: AppMode): boolean {
  return RENDERED_APP_MODES.includes(mode);
}

export const ACCESS_TYPES = ['all', 'logged_in', 'acl'] as const;
export type AccessType = (typeof ACCESS_TYPES)[number];

/** Connect's bounds: timeouts 0–30 days; memory below 2^53 (it travels as a JSON number). */
export const MAX_TIMEOUT_SECONDS = 2_592_000;
export const MAX_MEMORY_BYTES = 9_007_198_180_999_168;

/** The execution settings content carries (null = the server's default). */
export interface ContentSettings {
  connection_timeout: number | null;
  read_timeout: number | null;
  init_timeout: number | null;
  idle_timeout: number | null;
  min_processes: number | null;
  max_processes: number | null;
  max_conns_per_process: number | null;
  load_factor: number | null;
  cpu_request: number | null;
  cpu_limit: number | null;
  memory_request: number | null;
  memory_limit: number | null;
  amd_gpu_limit: number | null;
  nvidia_gpu_limit: number | null;
  service_account_name: string | null;
  default_image_name: string | null;
  default_environment_guid: string | null;
  default_r_environment_management: boolean | null;
  default_py_environment_management: boolean | null;
  run_as: string | null;
  run_as_current_user: boolean;
}
export const SETTING_KEYS = [
  'connection_timeout',
  'read_timeout',
  'init_timeout',
  'idle_timeout',
  'min_processes',
  'max_processes',
  'max_conns_per_process',
  'load_factor',
  'cpu_request',
  'cpu_limit',
  'memory_request',
  'memory_limit',
  'amd_gpu_limit',
  'nvidia_gpu_limit',
  'service_account_name',
  'default_image_name',
  'default_environment_guid',
  'default_r_environment_management',
  'default_py_environment_management',
  'run_as',
  'run_as_current_user',
] as const satisfies readonly (keyof ContentSettings)[];

export const DEFAULT_SETTINGS: ContentSettings = {
  connection_timeout: null,
  read_timeout: null,
  init_timeout: null,
  idle_timeout: null,
  min_processes: null,
  max_processes: null,
  max_conns_per_process: null,
  load_factor: null,
  cpu_request: null,
  cpu_limit: null,
  memory_request: null,
  memory_limit: null,
  amd_gpu_limit: null,
  nvidia_gpu_limit: null,
  service_account_name: null,
  default_image_name: null,
  default_environment_guid: null,
  default_r_environment_management: null,
  default_py_environment_management: null,
  run_as: null,
  run_as_current_user: false,
};

/** What a person writes about content besides its settings. */
export interface ContentDescription {
  name: string;
  title: string | null;
  description: string;
  access_type: AccessType;
  locked: boolean;
  locked_message: string;
}

/** A content item exactly as Connect's v1 API returns it. */
export interface Content extends ContentDescription, ContentSettings {
  guid: string;
  id: string;
  owner_guid: string | null;
  created_time: string;
  last_deployed_time: string | null;
  /** The active bundle; null until one is deployed. */
  bundle_id: string | null;
  app_mode: AppMode;
  content_category: string;
  parameterized: boolean;
  cluster_name: string | null;
  image_name: string | null;
  /** Where it was last deployed to (Offhost's addition, also in Connect ≥ 2025.04). */
  environment_guid: string | null;
  r_version: string | null;
  py_version: string | null;
  quarto_version: string | null;
  node_version: string | null;
  r_environment_management: boolean | null;
  py_environment_management: boolean | null;
  content_url: string;
  dashboard_url: string;
  app_role: 'owner' | 'editor' | 'viewer' | 'none';
  extension: boolean;
  vanity_url?: string | null;
  tags?: unknown[];
  owner?: { guid: string; username: string; first_name: string; last_name: string } | null;
}

/** Fields set by deploying or by the server; writing them is refused with a reason. */
export const READ_ONLY_FIELDS: Record<string, string> = {
  guid: 'is assigned by the server',
  id: 'is assigned by the server',
  created_time: 'is set by the server',
  last_deployed_time: 'is set by deploying a bundle',
  bundle_id: 'changes by deploying a bundle (POST /v1/content/{guid}/deploy)',
  app_mode: "comes from the deployed bundle's manifest",
  content_category: "comes from the deployed bundle's manifest",
  parameterized: "comes from the deployed bundle's manifest",
  cluster_name: 'is set by deploying a bundle',
  image_name: 'is set by deploying a bundle (set default_image_name or default_environment_guid instead)',
  environment_guid: 'is set by deploying a bundle (set default_environment_guid instead)',
  r_version: 'comes from the deployed bundle',
  py_version: 'comes from the deployed bundle',
  quarto_version: 'comes from the deployed bundle',
  node_version: 'comes from the deployed bundle',
  r_environment_management: 'is set by deploying a bundle',
  py_environment_management: 'is set by deploying a bundle',
  content_url: 'is derived from the guid',
  dashboard_url: 'is derived from the guid',
  app_role: "is the caller's role on this content",
  extension: 'is set by the server',
};

// --- validation -------------------------------------------------------------------------------

/** Connect's error code for each field (see reference/connect.md §2). */
const FIELD_CODES: Record<string, ErrorCode> = {
  name: 'InvalidContentName',
  title: 'InvalidContentTitle',
  cpu_request: 'InvalidCpuRequest',
  cpu_limit: 'InvalidCpuLimit',
  memory_request: 'InvalidMemoryRequest',
  memory_limit: 'InvalidMemoryLimit',
  min_processes: 'InvalidMinProcesses',
  max_processes: 'InvalidMaxProcesses',
  load_factor: 'InvalidLoadFactor',
  connection_timeout: 'InvalidTimeout',
  read_timeout: 'InvalidTimeout',
  init_timeout: 'InvalidTimeout',
  idle_timeout: 'InvalidTimeout',
  default_image_name: 'InvalidDefaultImageName',
  service_account_name: 'InvalidServiceAccountName',
  default_environment_guid: 'InvalidId',
  owner_guid: 'InvalidId',
};

const nullableInt = (field: string, min: number, max: number, unit = '') =>
  z
    .unknown()
    .transform((v, ctx): number | null => {
      if (v === null) return null;
      if (typeof v !== 'number' || !Number.isFinite(v) || !Number.isInteger(v)) {
        ctx.addIssue({ code: 'custom', message: `"${field}" must be a whole number${unit} or null, not ${quote(v)}.`, input: v });
        return z.NEVER;
      }
      if (v < min || v > max) {
        ctx.addIssue({ code: 'custom', message: `"${field}" must be between ${min} and ${max}${unit}; it is ${v}.`, input: v });
        return z.NEVER;
      }
      return v;
    });

/** CPU in cores, as Connect has it; Kubernetes can express no less than a millicore. */
const cores = (field: string) =>
  z.unknown().transform((v, ctx): number | null => {
    if (v === null) return null;
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      ctx.addIssue({ code: 'custom', message: `"${field}" must be a number of CPU cores (e.g. 0.5) or null, not ${quote(v)}.`, input: v });
      return z.NEVER;
    }
    if (v <= 0) {
      ctx.addIssue({ code: 'custom', message: `"${field}" must be more than 0 cores; it is ${v}.`, input: v });
      return z.NEVER;
    }
    if (Math.abs(Math.round(v * 1000) - v * 1000) > 1e-6) {
      ctx.addIssue({ code: 'custom', message: `"${field}" must be a whole number of millicores (at most 3 decimals, e.g. 0.25); it is ${v}.`, input: v });
      return z.NEVER;
    }
    if (v > 1_000_000) {
      ctx.addIssue({ code: 'custom', message: `"${field}" is ${v} cores, more than any node has (limit 1000000).`, input: v });
      return z.NEVER;
    }
    return Math.round(v * 1000) / 1000;
  });

const nullableBool = (field: string) =>
  z.unknown().transform((v, ctx): boolean | null => {
    if (v === null || typeof v === 'boolean') return v;
    ctx.addIssue({ code: 'custom', message: `"${field}" must be true, false or null, not ${quote(v)}.`, input: v });
    return z.NEVER;
  });

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const nullableText = (field: string, check: (s: string) => string | undefined) =>
  z.unknown().transform((v, ctx): string | null => {
    if (v === null) return null;
    if (typeof v !== 'string') {
      ctx.addIssue({ code: 'custom', message: `"${field}" must be text or null, not ${quote(v)}.`, input: v });
      return z.NEVER;
    }
    const problem = check(v);
    if (problem) {
      ctx.addIssue({ code: 'custom', message: problem, input: v });
      return z.NEVER;
    }
    return v;
  });

/** Content names: URL-friendly, as rsconnect makes them ([A-Za-z0-9_-], 1–64 characters). */
export function contentNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return `"name" must be text, not ${quote(name)}.`;
  if (name.length === 0 || name.length > 64) return `"name" must be 1 to 64 characters long; ${quote(name)} is ${name.length}.`;
  if (!/^[A-Za-z0-9_-]+$/.test(name)) return `"name" may contain only letters, digits, "-" and "_": ${quote(name)}.`;
  return undefined;
}

const settingFields = {
  connection_timeout: nullableInt('connection_timeout', 0, MAX_TIMEOUT_SECONDS, ' seconds'),
  read_timeout: nullableInt('read_timeout', 0, MAX_TIMEOUT_SECONDS, ' seconds'),
  init_timeout: nullableInt('init_timeout', 0, MAX_TIMEOUT_SECONDS, ' seconds'),
  idle_timeout: nullableInt('idle_timeout', 0, MAX_TIMEOUT_SECONDS, ' seconds'),
  min_processes: nullableInt('min_processes', 0, 1000),
  max_processes: nullableInt('max_processes', 1, 1000),
  max_conns_per_process: nullableInt('max_conns_per_process', 1, 1_000_000),
  load_factor: z.unknown().transform((v, ctx): number | null => {
    if (v === null) return null;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1) {
      ctx.addIssue({ code: 'custom', message: `"load_factor" must be a number from 0.0 to 1.0 or null, not ${quote(v)}.`, input: v });
      return z.NEVER;
    }
    return v;
  }),
  cpu_request: cores('cpu_request'),
  cpu_limit: cores('cpu_limit'),
  memory_request: nullableInt('memory_request', 0, MAX_MEMORY_BYTES, ' bytes'),
  memory_limit: nullableInt('memory_limit', 0, MAX_MEMORY_BYTES, ' bytes'),
  amd_gpu_limit: nullableInt('amd_gpu_limit', 0, 1024),
  nvidia_gpu_limit: nullableInt('nvidia_gpu_limit', 0, 1024),
  service_account_name: nullableText('service_account_name', (s) =>
    s.length > 253 || !DNS_SUBDOMAIN.test(s)
      ? `"service_account_name" must be a Kubernetes name (lowercase letters, digits, "-" and ".", at most 253 characters), not ${quote(s)}.`
      : undefined,
  ),
  default_image_name: nullableText('default_image_name', (s) =>
    s.length === 0 || /\s/.test(s) || s.length > 512 ? `"default_image_name" must be a non-empty image name without spaces, not ${quote(s)}.` : undefined,
  ),
  default_environment_guid: nullableText('default_environment_guid', (s) =>
    GUID.test(s) ? undefined : `"default_environment_guid" must be an environment guid, not ${quote(s)}.`,
  ),
  default_r_environment_management: nullableBool('default_r_environment_management'),
  default_py_environment_management: nullableBool('default_py_environment_management'),
  run_as: nullableText('run_as', (s) => (/^[a-z_][a-z0-9_-]{0,31}$/.test(s) ? undefined : `"run_as" must be a Unix user name, not ${quote(s)}.`)),
  run_as_current_user: z
    .boolean({ error: '"run_as_current_user" must be true or false.' })
    .nullable()
    .transform((r) => r ?? false),
};

const descriptionFields = {
  name: z.unknown().transform((v, ctx): string => {
    const problem = contentNameProblem(v);
    if (problem) {
      ctx.addIssue({ code: 'custom', message: problem, input: v });
      return z.NEVER;
    }
    return v as string;
  }),
  title: nullableText('title', (s) => (s.length > 1024 ? `"title" is ${s.length} characters long; the limit is 1024.` : undefined)),
  description: z
    .string({ error: '"description" must be text.' })
    .nullable()
    .transform((s) => s ?? '')
    .refine((s) => s.length <= 4096, { error: '"description" is longer than 4096 characters.' }),
  // Clients send null for "the default" (posit-sdk passes what a script gives it).
  access_type: z
    .enum(ACCESS_TYPES, { error: (i) => `"access_type" must be "all", "logged_in" or "acl", not ${quote(i.input)}.` })
    .nullable()
    .transform((a) => a ?? 'acl'),
  locked: z
    .boolean({ error: '"locked" must be true or false.' })
    .nullable()
    .transform((l) => l ?? false),
  locked_message: z
    .string({ error: '"locked_message" must be text.' })
    .nullable()
    .transform((s) => s ?? ''),
};

export type ContentChanges = Partial<ContentDescription & ContentSettings & { owner_guid: string }>;

const changesSchema = z.strictObject(
  Object.fromEntries(
    Object.entries({
      ...descriptionFields,
      ...settingFields,
      owner_guid: z.unknown().transform((v, ctx): string => {
        if (typeof v !== 'string' || !GUID.test(v)) {
          ctx.addIssue({ code: 'custom', message: `"owner_guid" must be a user guid, not ${quote(v)}.`, input: v });
          return z.NEVER;
        }
        return v.toLowerCase();
      }),
    }).map(([k, s]) => [k, (s as z.ZodType).optional()]),
  ),
);

function codeFor(path: readonly PathSegment[]): ErrorCode {
  const field = String(path[0]);
  return Object.hasOwn(FIELD_CODES, field) ? FIELD_CODES[field]! : 'InvalidRequest';
}

/**
 * A create or PATCH body: only the fields it names, each checked for its type and Connect's range.
 * Read-only fields are refused with the reason (they change by deploying, not by writing).
 */
export function parseContentChanges(raw: unknown, { requireName = false } = {}): ContentChanges {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new AppError('InvalidRequest', 'The request body must be a JSON object of content fields.');
  const body = raw as Record<string, unknown>;
  for (const key of Object.keys(body)) {
    const why = Object.hasOwn(READ_ONLY_FIELDS, key) ? READ_ONLY_FIELDS[key] : undefined;
    if (why !== undefined) throw new AppError('ImmutableField', `"${key}" cannot be written: it ${why}.`, key);
  }
  // Fields the API returns only with ?include=; a client echoing them back changes nothing.
  const { owner: _o, tags: _t, vanity_url: _v, ...rest } = body;
  if (requireName && rest.name === undefined) throw new AppError('InvalidContentName', '"name" is required: a URL-friendly name such as "sales-report".', 'name');
  const result = changesSchema.safeParse(rest, { reportInput: true });
  if (!result.success) throw issuesToError(result.error.issues, codeFor);
  return result.data as ContentChanges;
}

/**
 * The settings' own consistency once changes are applied: a request never above its limit, the
 * minimum processes never above the maximum. One error per field, all at once.
 */
export function checkSettingsShape(s: ContentSettings): void {
  const problems: { code: ErrorCode; message: string; field: string }[] = [];
  if (s.cpu_request !== null && s.cpu_limit !== null && s.cpu_request > s.cpu_limit)
    problems.push({ code: 'CpuRequestAboveLimit', field: 'cpu_request', message: `"cpu_request" (${s.cpu_request} cores) is more than "cpu_limit" (${s.cpu_limit} cores).` });
  if (s.memory_request !== null && s.memory_limit !== null && s.memory_request > s.memory_limit)
    problems.push({
      code: 'MemoryRequestAboveLimit',
      field: 'memory_request',
      message: `"memory_request" (${s.memory_request} bytes) is more than "memory_limit" (${s.memory_limit} bytes).`,
    });
  if (s.min_processes !== null && s.max_processes !== null && s.min_processes > s.max_processes)
    problems.push({ code: 'MinProcessesAboveMax', field: 'min_processes', message: `"min_processes" (${s.min_processes}) is more than "max_processes" (${s.max_processes}).` });
  if (problems.length) throw new AppError(problems[0]!.code, problems[0]!.message, problems[0]!.field, problems);
}

export function settingsOf(c: ContentSettings): ContentSettings {
  return Object.fromEntries(SETTING_KEYS.map((k) => [k, c[k]])) as unknown as ContentSettings;
}

// --- bundles and tasks ------------------------------------------------------------------------

/** A bundle as Connect's v1 API returns it. */
export interface Bundle {
  id: string;
  content_guid: string;
  created_time: string;
  /** Compressed size in bytes. */
  size: number;
  active: boolean;
  r_version: string | null;
  py_version: string | null;
  quarto_version: string | null;
  metadata: Record<string, unknown>;
  /** Offhost's additions: the archive's SHA-256 and the manifest's app mode. */
  sha256: string;
  app_mode: AppMode;
}

/** A task as GET /v1/tasks/{id} returns it (output from `first`, `last` = the next `first`). */
export interface Task {
  id: string;
  output: string[];
  finished: boolean;
  code: number;
  error: string;
  last: number;
  result: unknown;
}

export const JOB_KINDS = ['build', 'render', 'run'] as const;
export type JobKind = (typeof JOB_KINDS)[number];
export const JOB_STATES = ['queued', 'creating', 'pending', 'running', 'succeeded', 'failed', 'cancelled', 'lost'] as const;
export type JobState = (typeof JOB_STATES)[number];

/** Connect's job tag for a kind of work on a mode (posit-sdk's `tag`). */
export function jobTag(kind: JobKind, mode: AppMode): string {
  if (kind === 'build') return mode === 'shiny' || mode === 'rmd-shiny' || mode === 'rmd-static' || mode === 'api' ? 'packrat_restore' : 'python_restore';
  if (kind === 'render') {
    if (mode === 'quarto-static') return 'build_site';
    if (mode === 'jupyter-static') return 'build_jupyter';
    return 'build_report';
  }
  const run: Partial<Record<AppMode, string>> = {
    shiny: 'run_app',
    'rmd-shiny': 'render_shiny',
    'quarto-shiny': 'render_shiny',
    api: 'run_api',
    'tensorflow-saved-model': 'run_tensorflow',
    'python-api': 'run_python_api',
    'python-dash': 'run_dash_app',
    'python-streamlit': 'run_streamlit',
    'python-bokeh': 'run_bokeh_app',
    'python-fastapi': 'run_fastapi_app',
    'python-shiny': 'run_pyshiny_app',
    'jupyter-voila': 'run_voila_app',
    'python-gradio': 'run_gradio_app',
    'python-panel': 'run_panel_app',
  };
  return run[mode] ?? 'unknown';
}

// --- the UI contract (shared/api.ts) ------------------------------------------------------------

/** One deploy, build or rebuild of a content item: its history, newest first. */
export interface DeployRecord {
  task_id: string;
  kind: 'deploy' | 'build' | 'rebuild';
  bundle_id: string | null;
  activate: boolean;
  actor: string;
  created_time: string;
  finished: boolean;
  code: number;
  error: string;
  /** The task's last line ("Status: queued. …" while the launcher has the jobs). */
  last_line: string;
}

export interface JobSummary {
  key: string;
  kind: JobKind;
  tag: string;
  state: JobState;
  bundle_id: string;
  environment_guid: string;
  image: string;
  queued_time: string;
  finished_time: string | null;
}

/** What the Content page shows for one item. */
export interface ContentDetail {
  content: Content;
  bundles: Bundle[];
  deploys: DeployRecord[];
  jobs: JobSummary[];
  /** The manifest of the active bundle (else the newest), for "which environment and why". */
  manifest: Record<string, unknown> | null;
  /** Whether the caller may change it (its owner or an admin). */
  can_edit: boolean;
}

export interface DeployInput {
  guid: string;
  /** null: the newest bundle. */
  bundle_id: string | null;
  activate?: boolean;
}

export function parseDeployInput(raw: unknown): { guid: string; bundleId: number | null; activate: boolean } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new AppError('InvalidRequest', 'The input must be an object {guid, bundle_id, activate}.');
  const { guid, bundle_id, activate, ...rest } = raw as Record<string, unknown>;
  const extra = Object.keys(rest)[0];
  if (extra !== undefined) throw new AppError('InvalidRequest', `Unknown field "${extra}".`, extra);
  if (typeof guid !== 'string' || !GUID.test(guid)) throw new AppError('InvalidId', `${quote(guid ?? null)} is not a content guid.`, 'guid');
  let bundleId: number | null = null;
  if (bundle_id !== null && bundle_id !== undefined) {
    const text = typeof bundle_id === 'number' ? String(bundle_id) : bundle_id;
    if (typeof text !== 'string' || !/^[1-9]\d{0,15}$/.test(text)) throw new AppError('InvalidId', `${quote(bundle_id)} is not a bundle id.`, 'bundle_id');
    bundleId = Number(text);
  }
  if (activate !== undefined && typeof activate !== 'boolean') throw new AppError('InvalidRequest', '"activate" must be true or false.', 'activate');
  return { guid: guid.toLowerCase(), bundleId, activate: activate ?? true };
}
