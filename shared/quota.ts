// Execution-settings bounds ("quotas"): global min/default/max for CPU and memory requests and
// limits, the number of jobs that may run at once, and the service accounts content may use.
// Pure: the UI validates a form with these functions as you type, and the core runs them again.
//
// Units follow Posit Connect's content API: CPU in cores (a number, 0.25), memory in bytes (a whole
// number). Inputs may also be Kubernetes quantities as text ("250m", "512Mi"); everything is
// normalised to whole millicores and bytes (fractions round up, as the apiserver does), and
// results are numbers in Connect's units again.
//
// At launch, content whose own values fall outside the bounds is CLAMPED to the nearest bound (it
// still runs; the clamp is reported), but content whose service account is no longer allowed is
// REFUSED (an identity is never swapped silently). See README "Quotas".
import { AppError, type ErrorBody, type ErrorCode } from './errors';
import { formatCpu, formatMemory, parseCpu, parseMemory, QuantityError } from './quantity';
import { quote } from './validation';

export const RESOURCE_FIELDS = ['cpu_request', 'cpu_limit', 'memory_request', 'memory_limit'] as const;
export type ResourceField = (typeof RESOURCE_FIELDS)[number];
export const BOUND_NAMES = ['min', 'default', 'max'] as const;
export type BoundName = (typeof BOUND_NAMES)[number];

/** One resource's bounds in Connect's units (cores, or bytes). */
export interface Bounds {
  min: number;
  default: number;
  max: number;
}

export interface ServiceAccounts {
  /** Names content may set as service_account_name. */
  allowed: string[];
  /** Used when content sets none; null: the namespace's own `default` account, without a token mounted. */
  default: string | null;
}

export interface Quotas {
  cpu_request: Bounds;
  cpu_limit: Bounds;
  memory_request: Bounds;
  memory_limit: Bounds;
  /** How many jobs (builds, renders, running apps) may run at once across all content. */
  max_concurrent_jobs: number;
  service_accounts: ServiceAccounts;
}

/** A number in Connect's units, or a Kubernetes quantity as text ("250m", "1.5", "512Mi", "1G"). */
export type QuantityInput = number | string;
export interface QuotasInput {
  cpu_request: Record<BoundName, QuantityInput>;
  cpu_limit: Record<BoundName, QuantityInput>;
  memory_request: Record<BoundName, QuantityInput>;
  memory_limit: Record<BoundName, QuantityInput>;
  max_concurrent_jobs: number;
  service_accounts: ServiceAccounts;
}

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
/** What a new installation starts with: a modest default, room to ask for more. */
export const DEFAULT_QUOTAS: Quotas = {
  cpu_request: { min: 0.01, default: 0.5, max: 4 },
  cpu_limit: { min: 0.1, default: 1, max: 8 },
  memory_request: { min: 64 * MiB, default: 512 * MiB, max: 16 * GiB },
  memory_limit: { min: 128 * MiB, default: GiB, max: 32 * GiB },
  max_concurrent_jobs: 20,
  service_accounts: { allowed: [], default: null },
};

/** Caps on the settings themselves, so the form and the stored row stay small. */
export const QUOTA_LIMITS = { maxConcurrentJobs: 10_000, serviceAccounts: 100 } as const;

export interface Problem {
  code: ErrorCode;
  message: string;
  field: string;
}

/** Problems as one AppError: the first is the message, all are details (a form marks each field). */
export function problemsToError(problems: readonly Problem[]): AppError {
  const first = problems[0];
  if (!first) throw new Error('problemsToError needs at least one problem');
  const details: NonNullable<ErrorBody['details']> = problems.map((p) => ({ code: p.code, message: p.message, field: p.field }));
  return new AppError(first.code, first.message, first.field, details);
}

// --- units ---------------------------------------------------------------------------------

const isCpu = (f: ResourceField) => f === 'cpu_request' || f === 'cpu_limit';
const LABEL: Record<ResourceField, string> = {
  cpu_request: 'CPU request',
  cpu_limit: 'CPU limit',
  memory_request: 'memory request',
  memory_limit: 'memory limit',
};

/** API units (cores, bytes) -> base units (millicores, bytes). Values from this module are exact. */
function toBase(f: ResourceField, v: number): number {
  return isCpu(f) ? Math.round(v * 1000) : v;
}
function fromBase(f: ResourceField, n: number): number {
  return isCpu(f) ? n / 1000 : n;
}

/** For messages: "0.25 cores (250m)", "2 cores", "536870912 bytes (512Mi)". */
export function showValue(f: ResourceField, base: number): string {
  if (isCpu(f)) {
    const cores = base / 1000;
    const word = cores === 1 ? 'core' : 'cores';
    return base % 1000 === 0 ? `${cores} ${word}` : `${cores} ${word} (${formatCpu(base)})`;
  }
  const q = formatMemory(base);
  return q === String(base) ? `${base} bytes` : `${base} bytes (${q})`;
}

type Read = { value: number } | { problem: string };

/** A number in API units or a quantity string -> base units, or what is wrong with it. */
function readQuantity(f: ResourceField, raw: unknown, where: string): Read {
  const unitWord = isCpu(f) ? 'a number of cores (e.g. 0.5) or a quantity such as "500m"' : 'a number of bytes or a quantity such as "512Mi"';
  if (raw === undefined) return { problem: `${where} is required: ${unitWord}.` };
  if (typeof raw === 'number') {
    if (!Number.isFinite(raw)) return { problem: `${where} must be a finite number, not ${String(raw)}.` };
    if (raw < 0) return { problem: `${where} must not be negative (it is ${raw}).` };
  } else if (typeof raw !== 'string') {
    return { problem: `${where} must be ${unitWord}, not ${raw === null ? 'null' : Array.isArray(raw) ? 'a list' : `a ${typeof raw}`}.` };
  }
  try {
    return { value: isCpu(f) ? parseCpu(raw) : parseMemory(raw) };
  } catch (e) {
    if (e instanceof QuantityError) return { problem: `${where} ${quote(raw)} is not valid: ${e.message.replace(/^.*?is not a valid quantity: /, '')}.` };
    throw e;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describeType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'string' ? 'text' : `a ${typeof v}`;
}

/** Kubernetes object names for service accounts: a DNS-1123 subdomain. */
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export function serviceAccountNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return `must be text, not ${describeType(name)}`;
  if (name === '') return 'is empty';
  if (name.length > 253) return `is ${name.length} characters long; a service account name has at most 253`;
  if (!DNS_SUBDOMAIN.test(name))
    return `${quote(name)} is not a valid service account name: lowercase letters, digits, "-" and ".", starting and ending with a letter or digit`;
  return undefined;
}

class Problems {
  readonly list: Problem[] = [];
  /** One problem per field: the first found is the one that says most. */
  add(field: string, message: string, code: ErrorCode): void {
    if (!this.has(field)) this.list.push({ code, message, field });
  }
  has(field: string): boolean {
    return this.list.some((p) => p.field === field);
  }
}

function unknownKeys(obj: Record<string, unknown>, allowed: readonly string[], prefix: string, problems: Problems): void {
  for (const k of Object.keys(obj))
    if (!allowed.includes(k)) {
      const field = prefix ? `${prefix}.${k}` : k;
      problems.add(field, `Unknown field "${field}".`, 'InvalidRequest');
    }
}

// --- the quota settings themselves ---------------------------------------------------------

const QUOTA_KEYS = [...RESOURCE_FIELDS, 'max_concurrent_jobs', 'service_accounts'] as const;
const PAIRS = [
  ['cpu_request', 'cpu_limit'],
  ['memory_request', 'memory_limit'],
] as const;

/** Every problem with a quota settings object (empty when valid), one per field. */
export function quotaProblems(raw: unknown): Problem[] {
  return checkQuotas(raw).problems;
}

/** Parse and check quota settings; throws an AppError listing each bad field. */
export function parseQuotas(raw: unknown): Quotas {
  const { quotas, problems } = checkQuotas(raw);
  if (problems.length || !quotas) throw problemsToError(problems);
  return quotas;
}

function checkQuotas(raw: unknown): { quotas?: Quotas; problems: Problem[] } {
  const problems = new Problems();
  const bad = (field: string, message: string) => problems.add(field, message, 'InvalidQuota');
  if (!isObject(raw)) {
    bad('', `The quota settings must be an object, not ${describeType(raw)}.`);
    return { problems: problems.list };
  }
  unknownKeys(raw, QUOTA_KEYS, '', problems);

  const base: Partial<Record<ResourceField, Partial<Record<BoundName, number>>>> = {};
  for (const f of RESOURCE_FIELDS) {
    const b = raw[f];
    if (!isObject(b)) {
      bad(f, b === undefined ? `"${f}" is required: {min, default, max}.` : `"${f}" must be an object {min, default, max}, not ${describeType(b)}.`);
      continue;
    }
    unknownKeys(b, BOUND_NAMES, f, problems);
    const got: Partial<Record<BoundName, number>> = (base[f] = {});
    for (const k of BOUND_NAMES) {
      const r = readQuantity(f, b[k], `"${f}.${k}"`);
      if ('problem' in r) bad(`${f}.${k}`, r.problem);
      // A minimum of 0 means "no minimum"; a default or maximum of 0 would let nothing run.
      else if (r.value === 0 && k !== 'min') bad(`${f}.${k}`, `"${f}.${k}" must be greater than 0.`);
      else got[k] = r.value;
    }
  }

  // Within one resource: min <= default <= max.
  for (const f of RESOURCE_FIELDS) {
    const { min, default: def, max } = base[f] ?? {};
    if (min !== undefined && max !== undefined && max < min)
      bad(`${f}.max`, `The maximum ${LABEL[f]}, ${showValue(f, max)}, is below the minimum, ${showValue(f, min)}.`);
    if (def !== undefined && min !== undefined && def < min)
      bad(`${f}.default`, `The default ${LABEL[f]}, ${showValue(f, def)}, is below the minimum, ${showValue(f, min)}.`);
    else if (def !== undefined && max !== undefined && def > max && !problems.has(`${f}.max`))
      bad(`${f}.default`, `The default ${LABEL[f]}, ${showValue(f, def)}, is above the maximum, ${showValue(f, max)}.`);
  }
  // Across request and limit: a request can never exceed its limit, so each request bound must be
  // at most the same limit bound (the LimitRange's min and max apply to both, too).
  for (const [req, lim] of PAIRS)
    for (const k of BOUND_NAMES) {
      const r = base[req]?.[k];
      const l = base[lim]?.[k];
      if (r !== undefined && l !== undefined && r > l)
        bad(
          `${req}.${k}`,
          `The ${k === 'default' ? 'default' : k === 'min' ? 'minimum' : 'maximum'} ${LABEL[req]}, ${showValue(req, r)}, is above the ${k === 'default' ? 'default' : k === 'min' ? 'minimum' : 'maximum'} ${LABEL[lim]}, ${showValue(lim, l)}; a request can never exceed its limit.`,
        );
    }

  const jobs = raw.max_concurrent_jobs;
  if (jobs === undefined) bad('max_concurrent_jobs', '"max_concurrent_jobs" is required: a whole number of at least 1.');
  else if (typeof jobs !== 'number' || !Number.isInteger(jobs) || jobs < 1 || jobs > QUOTA_LIMITS.maxConcurrentJobs)
    bad('max_concurrent_jobs', `"max_concurrent_jobs" must be a whole number from 1 to ${QUOTA_LIMITS.maxConcurrentJobs}, not ${quote(jobs)}.`);

  const sa = raw.service_accounts;
  let accounts: ServiceAccounts | undefined;
  if (!isObject(sa)) {
    bad('service_accounts', sa === undefined ? '"service_accounts" is required: {allowed: [names], default: name or null}.' : `"service_accounts" must be an object {allowed, default}, not ${describeType(sa)}.`);
  } else {
    unknownKeys(sa, ['allowed', 'default'], 'service_accounts', problems);
    const allowed = sa.allowed;
    const names: string[] = [];
    if (!Array.isArray(allowed)) bad('service_accounts.allowed', `"service_accounts.allowed" must be a list of service account names, not ${describeType(allowed)}.`);
    else if (allowed.length > QUOTA_LIMITS.serviceAccounts)
      problems.add('service_accounts.allowed', `"service_accounts.allowed" has ${allowed.length} names; at most ${QUOTA_LIMITS.serviceAccounts} are allowed.`, 'LimitExceeded');
    else
      for (const [i, name] of allowed.entries()) {
        const field = `service_accounts.allowed[${i}]`;
        const problem = serviceAccountNameProblem(name);
        if (problem) bad(field, `"${field}" ${problem}.`);
        else if (names.includes(name as string)) bad(field, `"${field}": ${quote(name)} is listed twice.`);
        else names.push(name as string);
      }
    const def = sa.default;
    if (def === undefined || def === null) accounts = { allowed: names, default: null };
    else {
      const problem = serviceAccountNameProblem(def);
      if (problem) bad('service_accounts.default', `"service_accounts.default" ${problem}.`);
      else if (Array.isArray(allowed) && !names.includes(def as string) && !problems.list.some((p) => p.field.startsWith('service_accounts.allowed')))
        bad('service_accounts.default', `The default service account ${quote(def)} must also be in "service_accounts.allowed".`);
      accounts = { allowed: names, default: def as string };
    }
  }

  if (problems.list.length) return { problems: problems.list };
  const bounds = (f: ResourceField): Bounds => {
    const b = base[f]!;
    return { min: fromBase(f, b.min!), default: fromBase(f, b.default!), max: fromBase(f, b.max!) };
  };
  return {
    quotas: {
      cpu_request: bounds('cpu_request'),
      cpu_limit: bounds('cpu_limit'),
      memory_request: bounds('memory_request'),
      memory_limit: bounds('memory_limit'),
      max_concurrent_jobs: jobs as number,
      service_accounts: accounts!,
    },
    problems: [],
  };
}

// --- content's execution settings ----------------------------------------------------------

/** Content's execution settings as stored: Connect's units; null means "the default". */
export interface ExecutionSettings {
  cpu_request: number | null;
  cpu_limit: number | null;
  memory_request: number | null;
  memory_limit: number | null;
  service_account_name: string | null;
}
export const EXECUTION_SETTING_FIELDS = [...RESOURCE_FIELDS, 'service_account_name'] as const;
export type ExecutionSettingField = (typeof EXECUTION_SETTING_FIELDS)[number];

const CODES: Record<ResourceField, { invalid: ErrorCode; bounds: ErrorCode; aboveLimit?: ErrorCode }> = {
  cpu_request: { invalid: 'InvalidCpuRequest', bounds: 'CpuRequestOutOfBounds', aboveLimit: 'CpuRequestAboveLimit' },
  cpu_limit: { invalid: 'InvalidCpuLimit', bounds: 'CpuLimitOutOfBounds' },
  memory_request: { invalid: 'InvalidMemoryRequest', bounds: 'MemoryRequestOutOfBounds', aboveLimit: 'MemoryRequestAboveLimit' },
  memory_limit: { invalid: 'InvalidMemoryLimit', bounds: 'MemoryLimitOutOfBounds' },
};

export interface ValidateOptions {
  /**
   * The fields the caller is changing (a PATCH). Range problems are then reported only for these
   * (and for a request/limit pair when either half changes), so a value that an earlier change of
   * the bounds left outside them does not block editing something else. Default: every field.
   */
  changed?: readonly string[];
}

/**
 * Check content's execution settings against the quotas: each of cpu_request, cpu_limit (cores),
 * memory_request, memory_limit (bytes) is null (the default), a number, or a quantity string; it
 * must be a valid quantity (CPU above 0), within [min, max], and a request at most its limit when
 * both are set; service_account_name must be null or one of the allowed names. Pass the content's
 * settings after the change (stored values overlaid with a PATCH). Other keys are ignored.
 * Returns the settings in Connect's units and one problem per bad field.
 */
export function validateExecutionSettings(
  input: Readonly<Record<string, unknown>>,
  quotas: Quotas,
  options: ValidateOptions = {},
): { settings: ExecutionSettings; problems: Problem[] } {
  const problems = new Problems();
  const reported = (f: string) => options.changed === undefined || options.changed.includes(f);
  const base: Partial<Record<ResourceField, number>> = {};
  const settings: ExecutionSettings = { cpu_request: null, cpu_limit: null, memory_request: null, memory_limit: null, service_account_name: null };

  for (const f of RESOURCE_FIELDS) {
    const raw = input[f];
    if (raw === undefined || raw === null) continue;
    const r = readQuantity(f, raw, f);
    if ('problem' in r) {
      problems.add(f, r.problem, CODES[f].invalid);
      continue;
    }
    // Connect refuses a CPU of 0 (a container with no CPU at all); 0 bytes is caught by the minimum.
    if (isCpu(f) && r.value === 0) {
      problems.add(f, `${f} must be greater than 0 cores; leave it unset (null) for the default, ${showValue(f, toBase(f, quotas[f].default))}.`, CODES[f].invalid);
      continue;
    }
    base[f] = r.value;
    settings[f] = fromBase(f, r.value);
    const min = toBase(f, quotas[f].min);
    const max = toBase(f, quotas[f].max);
    if (!reported(f)) continue;
    if (r.value < min) problems.add(f, `${f} is ${showValue(f, r.value)}, below the minimum ${LABEL[f]} of ${showValue(f, min)}.`, CODES[f].bounds);
    else if (r.value > max) problems.add(f, `${f} is ${showValue(f, r.value)}, above the maximum ${LABEL[f]} of ${showValue(f, max)}.`, CODES[f].bounds);
  }
  for (const [req, lim] of PAIRS) {
    const r = base[req];
    const l = base[lim];
    if (r === undefined || l === undefined || r <= l || problems.has(req)) continue;
    if (!reported(req) && !reported(lim)) continue;
    problems.add(req, `${req} (${showValue(req, r)}) is above ${lim} (${showValue(lim, l)}); a request can never exceed its limit.`, CODES[req].aboveLimit!);
  }

  const sa = input.service_account_name;
  if (sa !== undefined && sa !== null) {
    const problem = serviceAccountNameProblem(sa);
    if (problem) problems.add('service_account_name', `service_account_name ${problem}.`, 'InvalidServiceAccountName');
    else {
      settings.service_account_name = sa as string;
      const why = serviceAccountRefusal(sa as string, quotas);
      if (why && reported('service_account_name')) problems.add('service_account_name', why, 'ServiceAccountNotAllowed');
    }
  }
  return { settings, problems: problems.list };
}

/** validateExecutionSettings, throwing an AppError that names every bad field. */
export function assertExecutionSettings(input: Readonly<Record<string, unknown>>, quotas: Quotas, options?: ValidateOptions): ExecutionSettings {
  const { settings, problems } = validateExecutionSettings(input, quotas, options);
  if (problems.length) throw problemsToError(problems);
  return settings;
}

function serviceAccountRefusal(name: string, quotas: Quotas): string | undefined {
  const { allowed } = quotas.service_accounts;
  if (allowed.includes(name)) return undefined;
  if (!allowed.length) return `service_account_name ${quote(name)} is not allowed: no service accounts are allowed for content (an admin can allow some in the quotas).`;
  return `service_account_name ${quote(name)} is not allowed; allowed: ${allowed.map((n) => quote(n)).join(', ')}.`;
}

// --- what a launch gets ----------------------------------------------------------------------

/** A content value that was outside the bounds, and what the launch uses instead. */
export interface Clamp {
  field: ResourceField;
  /** The content's own value (cores or bytes). */
  value: number;
  /** What the launch uses. */
  launch_value: number;
  /** Which bound moved it: the minimum, the maximum, or (a request) its own limit. */
  bound: 'min' | 'max' | 'limit';
  message: string;
}

export interface EffectiveResources {
  /** Cores and bytes, as the Job will ask for them. */
  cpu_request: number;
  cpu_limit: number;
  memory_request: number;
  memory_limit: number;
  service_account_name: string | null;
  /** Where each value came from: the content's own setting or the quotas' default. */
  source: Record<ExecutionSettingField, 'content' | 'default'>;
  clamped: Clamp[];
  /** Set when the content cannot launch under these quotas; the launch is refused with this error. */
  refused: Problem | null;
}

/**
 * The resources a launch uses: the content's own values, clamped into the bounds, and the defaults
 * where it has none. A default adapts to the other half of its pair: with only a limit set, the
 * request is the default request or the limit if that is lower (as Kubernetes takes the limit);
 * with only a request set, the limit is the default limit or the request if that is higher.
 * A request above its own limit is lowered to the limit. A service account that is not allowed
 * (any more) refuses the launch instead.
 */
export function effectiveResources(settings: ExecutionSettings, quotas: Quotas): EffectiveResources {
  const clamped: Clamp[] = [];
  const base = {} as Record<ResourceField, number>;
  const source = {} as EffectiveResources['source'];
  const clampOwn = (f: ResourceField): number | null => {
    const v = settings[f];
    if (v === null || v === undefined) return null;
    const n = toBase(f, v);
    const min = toBase(f, quotas[f].min);
    const max = toBase(f, quotas[f].max);
    if (n < min) clamped.push({ field: f, value: v, launch_value: fromBase(f, min), bound: 'min', message: `${f} ${showValue(f, n)} is below the minimum; the launch uses ${showValue(f, min)}.` });
    if (n > max) clamped.push({ field: f, value: v, launch_value: fromBase(f, max), bound: 'max', message: `${f} ${showValue(f, n)} is above the maximum; the launch uses ${showValue(f, max)}.` });
    return Math.min(max, Math.max(min, n));
  };
  for (const [req, lim] of PAIRS) {
    let r = clampOwn(req);
    let l = clampOwn(lim);
    source[req] = r === null ? 'default' : 'content';
    source[lim] = l === null ? 'default' : 'content';
    const defR = toBase(req, quotas[req].default);
    const defL = toBase(lim, quotas[lim].default);
    if (r === null && l === null) [r, l] = [defR, defL];
    else if (r === null) r = Math.min(defR, l!);
    else if (l === null) l = Math.max(defL, r);
    else if (r > l) {
      const own = settings[req]!;
      const prior = clamped.findIndex((c) => c.field === req);
      if (prior >= 0) clamped.splice(prior, 1);
      clamped.push({ field: req, value: own, launch_value: fromBase(req, l), bound: 'limit', message: `${req} ${showValue(req, toBase(req, own))} is above the ${LABEL[lim]} in use; the launch uses ${showValue(req, l)}.` });
      r = l;
    }
    base[req] = r;
    base[lim] = l!;
  }
  let refused: Problem | null = null;
  let account = quotas.service_accounts.default;
  source.service_account_name = 'default';
  if (settings.service_account_name !== null && settings.service_account_name !== undefined) {
    source.service_account_name = 'content';
    account = settings.service_account_name;
    const why = serviceAccountRefusal(account, quotas);
    if (why) refused = { code: 'ServiceAccountNotAllowed', message: `${why} The content cannot launch until its service account is changed or allowed again.`, field: 'service_account_name' };
  }
  return {
    cpu_request: fromBase('cpu_request', base.cpu_request),
    cpu_limit: fromBase('cpu_limit', base.cpu_limit),
    memory_request: base.memory_request,
    memory_limit: base.memory_limit,
    service_account_name: account,
    source,
    clamped,
    refused,
  };
}

// --- the impact of changing the bounds -------------------------------------------------------

/** What quotaImpact needs of each content item. */
export interface ContentSettingsItem extends ExecutionSettings {
  guid: string;
  name: string;
  title?: string | null;
}

export interface ImpactEntry {
  guid: string;
  name: string;
  title: string | null;
  /** Values the launch will clamp under the new bounds. */
  clamped: Clamp[];
  /** Set when the content will not launch under the new bounds. */
  refused: Problem | null;
  /** It was already clamped or refused under the current bounds. */
  was_outside: boolean;
}

export interface QuotaImpact {
  content_count: number;
  /** Content whose own settings fall outside the new bounds, and what will happen at its next launch. */
  affected: ImpactEntry[];
  /** Defaults that change, and how many content items follow each (they get the new value). */
  defaults_changed: { field: ExecutionSettingField; from: number | string | null; to: number | string | null; content_count: number }[];
}

/** Which content falls outside `next` (and what its launches will do), compared with `current`. */
export function quotaImpact(current: Quotas, next: Quotas, contents: readonly ContentSettingsItem[]): QuotaImpact {
  const affected: ImpactEntry[] = [];
  for (const c of contents) {
    const now = effectiveResources(c, next);
    if (!now.clamped.length && !now.refused) continue;
    const before = effectiveResources(c, current);
    affected.push({
      guid: c.guid,
      name: c.name,
      title: c.title ?? null,
      clamped: now.clamped,
      refused: now.refused,
      was_outside: before.clamped.length > 0 || before.refused !== null,
    });
  }
  const defaults_changed: QuotaImpact['defaults_changed'] = [];
  for (const f of RESOURCE_FIELDS)
    if (current[f].default !== next[f].default)
      defaults_changed.push({ field: f, from: current[f].default, to: next[f].default, content_count: contents.filter((c) => c[f] === null || c[f] === undefined).length });
  if (current.service_accounts.default !== next.service_accounts.default)
    defaults_changed.push({
      field: 'service_account_name',
      from: current.service_accounts.default,
      to: next.service_accounts.default,
      content_count: contents.filter((c) => c.service_account_name === null || c.service_account_name === undefined).length,
    });
  return { content_count: contents.length, affected, defaults_changed };
}

// --- the UI contract's inputs ----------------------------------------------------------------

function objectOnly(raw: unknown, keys: readonly string[]): Record<string, unknown> {
  if (!isObject(raw)) throw new AppError('InvalidRequest', 'The input must be an object.');
  const extra = Object.keys(raw).find((k) => !keys.includes(k));
  if (extra !== undefined) throw new AppError('InvalidRequest', `Unknown field "${extra}".`, extra);
  return raw;
}

/** Errors from the nested quotas object name their field under "quotas.". */
function underQuotas(e: unknown): never {
  if (e instanceof AppError) {
    const prefix = (f?: string) => (f ? `quotas.${f}` : 'quotas');
    throw new AppError(e.code, e.message, prefix(e.field), e.details?.map((d) => ({ ...d, field: prefix(d.field) })));
  }
  throw e;
}

/** quotas.preview: { quotas } */
export function parseQuotasPreviewInput(raw: unknown): { quotas: Quotas } {
  const o = objectOnly(raw, ['quotas']);
  try {
    return { quotas: parseQuotas(o.quotas) };
  } catch (e) {
    underQuotas(e);
  }
}

/** quotas.update: { quotas, version? } — version: the one previewed; a later save answers 409. */
export function parseQuotasUpdateInput(raw: unknown): { quotas: Quotas; version: number | null } {
  const o = objectOnly(raw, ['quotas', 'version']);
  const v = o.version;
  if (v !== undefined && v !== null && (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0))
    throw new AppError('InvalidRequest', `"version" must be a whole number (from quotas.get), not ${quote(v)}.`, 'version');
  try {
    return { quotas: parseQuotas(o.quotas), version: (v as number | undefined) ?? null };
  } catch (e) {
    underQuotas(e);
  }
}

/** quotas.history: { limit? } (1–500, default 50). */
export function parseQuotasHistoryInput(raw: unknown): { limit: number } {
  if (raw === undefined || raw === null) return { limit: 50 };
  const o = objectOnly(raw, ['limit']);
  const l = o.limit ?? 50;
  if (typeof l !== 'number' || !Number.isInteger(l) || l < 1 || l > 500) throw new AppError('InvalidRequest', `"limit" must be a whole number from 1 to 500, not ${quote(l)}.`, 'limit');
  return { limit: l };
}

/** The stored quotas with their version (0: never saved, the built-in defaults). */
export interface QuotasState {
  quotas: Quotas;
  version: number;
  updated_time: string | null;
  updated_by: string | null;
}

/** How the LimitRange mirror of the bounds is doing (README "Quotas"). */
export interface LimitRangeMirrorStatus {
  namespace: string | null;
  state: 'starting' | 'in-sync' | 'retrying' | 'stopped';
  /** Why it is retrying (the cluster's or the kubeconfig's own words). */
  error: string | null;
}

/** quotas.get's answer: the stored bounds, and the mirror's state (null: no cluster configured). */
export interface QuotasView extends QuotasState {
  limit_range: LimitRangeMirrorStatus | null;
}

/** quotas.preview's answer: the parsed bounds, the version compared against, the impact. */
export interface QuotaPreview {
  quotas: Quotas;
  /** Pass it to quotas.update to save only if nobody saved since. */
  version: number;
  impact: QuotaImpact;
}

/** quotas.update's answer. */
export interface QuotaSaveResult {
  state: QuotasState;
  impact: QuotaImpact;
  /** False when the bounds were already these (nothing written, nothing audited). */
  changed: boolean;
}

/** One saved change, for the audit trail: who, when, before -> after. */
export interface QuotaChange {
  id: number;
  time: string;
  actor: string;
  before: Quotas;
  after: Quotas;
}
