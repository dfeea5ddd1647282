// Execution environments: a container image plus the R/Python/Quarto/... installations inside it.
// Field names follow Posit Connect's /__api__/v1/environments so its clients work against us.
import { z } from 'zod';
import { AppError, type ErrorCode } from './errors';
import { parseWith, quote, type PathSegment } from './validation';
import { isVersion, parseVersion, compareVersions } from './version';

export const LANGUAGES = ['r', 'python', 'quarto', 'tensorflow', 'nodejs'] as const;
export type Language = (typeof LANGUAGES)[number];
export const LANGUAGE_LABELS: Record<Language, string> = {
  r: 'R',
  python: 'Python',
  quarto: 'Quarto',
  tensorflow: 'TensorFlow',
  nodejs: 'Node.js',
};

export const MATCHING = ['any', 'exact', 'none'] as const;
export type Matching = (typeof MATCHING)[number];
export const CLUSTER_NAME = 'Kubernetes';
/** Content containers get our runtime here; environments may not mount over it. */
export const RESERVED_MOUNT_ROOT = '/opt/offhost';

/**
 * Caps on the size of what one request or file may define, so a big input is refused with a clear
 * error instead of tying up the server. Documented in README.md ("Limits").
 */
export const LIMITS = {
  /** Environments in one YAML import or in the watched environments file. */
  environmentsPerFile: 1000,
  /** Installations per runtime (r, python, …) of one environment. */
  installationsPerRuntime: 50,
  /** Volume mounts of one environment. */
  volumeMounts: 32,
  /** Bytes of YAML in one import or in the environments file (a Kubernetes ConfigMap holds 1 MiB too). */
  yamlBytes: 1024 * 1024,
} as const;

// --- field rules ---------------------------------------------------------------------------

const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

// Characters no title or description may hold: C0 and C1 controls, DEL, the line and paragraph
// separators, and the bidirectional overrides and isolates that make text display in another order
// than it is stored ("Trojan Source"). Descriptions may have tabs and line feeds.
const FORBIDDEN_IN_TEXT = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;
const CHARACTER_NAMES: Record<string, string> = {
  '\0': 'NUL',
  '\t': 'tab',
  '\n': 'line feed',
  '\r': 'carriage return',
  '\u001b': 'escape',
  '\u007f': 'delete',
  '\u2028': 'line separator',
  '\u2029': 'paragraph separator',
  '\u202e': 'right-to-left override',
  '\u202d': 'left-to-right override',
};

/** "U+0007" or "U+0009 (tab)". */
function describeCharacter(c: string): string {
  const code = `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
  return CHARACTER_NAMES[c] ? `${code} (${CHARACTER_NAMES[c]})` : code;
}

/** The first forbidden character of `text` (other than those in `allowed`), and where it is. */
function forbiddenCharacterProblem(text: string, what: string, allowed: string, rule: string): string | undefined {
  if (!FORBIDDEN_IN_TEXT.test(text)) return undefined;
  const chars = [...text];
  let line = 1;
  let column = 0;
  for (const [i, c] of chars.entries()) {
    column++;
    if (FORBIDDEN_IN_TEXT.test(c) && !allowed.includes(c)) {
      const where = text.includes('\n') ? `line ${line}, column ${column}` : `character ${i + 1}`;
      return `${what} contains the control character ${describeCharacter(c)} at ${where}; ${rule}`;
    }
    if (c === '\n') {
      line++;
      column = 0;
    }
  }
  return undefined;
}

/**
 * An array schema that refuses more than `max` items before looking at any of them, so a list of
 * 20,000 entries costs one length check, not 20,000 validations.
 */
function capped<T extends z.ZodType>(item: T, max: number, what: string) {
  return z.preprocess((v, ctx) => {
    if (Array.isArray(v) && v.length > max) {
      ctx.addIssue({ code: 'too_big', origin: 'array', maximum: max, inclusive: true, input: v, message: `${what}: ${v.length} given; the limit is ${max}.` });
      return z.NEVER;
    }
    return v;
  }, z.array(item));
}

// The reference grammar of github.com/distribution/reference, written out by part.
const DOMAIN_PART = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `(?:${DOMAIN_PART}(?:\\.${DOMAIN_PART})*|\\[[0-9a-fA-F:]+\\])(?::[0-9]+)?`;
const PATH_PART = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const IMAGE_REF = new RegExp(`^(?:${DOMAIN}/)?${PATH_PART}(?:/${PATH_PART})*(?::${TAG})?(?:@${DIGEST})?$`);

/** A container image reference: "ghcr.io/org/image:tag", "python:3.12", "registry:5000/a/b@sha256:…". */
export function imageReferenceProblem(ref: string): string | undefined {
  if (ref.trim() === '') return 'The image name ("name") is required, e.g. ghcr.io/rstudio/content-base:r4.3.1-py3.11.9-jammy.';
  if (ref !== ref.trim()) return `The image name ${quote(ref)} has leading or trailing spaces.`;
  const nameOnly = ref.split('@')[0]!.replace(/:[\w][\w.-]*$/, '');
  if (nameOnly.length > 255) return 'The image name is longer than 255 characters.';
  if (!IMAGE_REF.test(ref)) {
    const repository = nameOnly.includes('/') && /[.:]|^localhost\//.test(nameOnly) ? nameOnly.slice(nameOnly.indexOf('/') + 1) : nameOnly;
    const hint = /\s/.test(ref)
      ? ' It must not contain spaces.'
      : /[A-Z]/.test(repository)
        ? ' Repository names must be lower case.'
        : ' Expected [registry[:port]/]repository[:tag][@digest], e.g. ghcr.io/org/image:1.0.';
    return `${quote(ref)} is not a valid image reference.${hint}`;
  }
  return undefined;
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9a-fA-F:]+\])$/;

function absolutePathProblem(path: string, what: string): string | undefined {
  if (path === '') return `${what} is required and must be an absolute path such as /opt/R/4.3.1/bin/R.`;
  if (!path.startsWith('/')) return `${what} must be an absolute path (start with "/"), not ${quote(path)}.`;
  if (CONTROL_CHARS.test(path)) return `${what} must not contain control characters.`;
  if (path.split('/').some((p) => p === '..' || p === '.')) return `${what} must not contain "." or ".." segments.`;
  if (path.length > 4096) return `${what} is longer than 4096 characters.`;
  return undefined;
}

function textRule(problem: (s: string) => string | undefined) {
  return (s: string, ctx: z.core.$RefinementCtx<string>) => {
    const message = problem(s);
    if (message) ctx.addIssue({ code: 'custom', message, input: s });
  };
}

// --- schemas -------------------------------------------------------------------------------

const installationSchema = z.strictObject({
  version: z
    .string({ error: (i) => (i.input === undefined ? 'Each installation needs a "version", e.g. 4.3.1.' : 'The version must be text, e.g. "3.11.9".') })
    .superRefine(
      textRule((v) =>
        isVersion(v) ? undefined : `${quote(v)} is not a version: write it as numbers separated by dots, e.g. 4.3.1, 3.11.9 or 1.5.57.`,
      ),
    ),
  path: z
    .string({ error: (i) => (i.input === undefined ? 'Each installation needs a "path" to its executable, e.g. /opt/R/4.3.1/bin/R.' : 'The path must be text.') })
    .superRefine(textRule((p) => absolutePathProblem(p, 'The installation path'))),
});
export type Installation = z.output<typeof installationSchema>;

const installationsSchema = z
  .strictObject({ installations: capped(installationSchema, LIMITS.installationsPerRuntime, 'Too many installations').nullish() })
  .nullish()
  .transform((v) => ({ installations: v?.installations ?? [] }))
  .superRefine((v, ctx) => {
    const seen = new Map<string, number>();
    v.installations.forEach((inst, i) => {
      // "3.11" and "3.11.0" are the same version.
      const parsed = parseVersion(inst.version);
      const key = parsed ? `${parsed.release.join('.').replace(/(\.0)+$/, '')}${parsed.pre}` : inst.version;
      const first = seen.get(key);
      if (first !== undefined)
        ctx.addIssue({ code: 'custom', path: ['installations', i, 'version'], message: `Version ${inst.version} is listed twice (also at position ${first + 1}).` });
      else seen.set(key, i);
    });
  });
export type Installations = { installations: Installation[] };

const nfsSource = z.strictObject({
  volume_type: z.literal('nfs'),
  nfs_host: z.string().superRefine(
    textRule((h) =>
      h.length > 253 || h.split('.').some((label) => label.length > 63)
        ? `The NFS host ${quote(h)} is too long for a host name (at most 253 characters, 63 between dots).`
        : HOST.test(h)
          ? undefined
          : `The NFS host must be a host name or IP address, not ${quote(h)}.`,
    ),
  ),
  nfs_export_path: z.string().superRefine(textRule((p) => absolutePathProblem(p, 'The NFS export path'))),
  pvc_name: z.union([z.literal(''), z.null()]).optional(),
});
const pvcSource = z.strictObject({
  volume_type: z.literal('pvc'),
  pvc_name: z
    .string()
    .superRefine(
      textRule((n) =>
        n.length <= 253 && DNS_SUBDOMAIN.test(n)
          ? undefined
          : `The claim name must be a Kubernetes name (lower case letters, digits, "-" and "."), not ${quote(n)}.`,
      ),
    ),
  nfs_host: z.union([z.literal(''), z.null()]).optional(),
  nfs_export_path: z.union([z.literal(''), z.null()]).optional(),
});

const volumeMountSchema = z.strictObject({
  source: z.discriminatedUnion('volume_type', [nfsSource, pvcSource], {
    error: 'The volume source needs "volume_type": "nfs" (with nfs_host and nfs_export_path) or "pvc" (with pvc_name).',
  }),
  target: z.strictObject({
    path: z.string().superRefine(
      textRule((p) => {
        const problem = absolutePathProblem(p, 'The mount target path');
        if (problem) return problem;
        if (p === '/') return 'A volume cannot be mounted over "/".';
        if (p === RESERVED_MOUNT_ROOT || p.startsWith(`${RESERVED_MOUNT_ROOT}/`)) return `${RESERVED_MOUNT_ROOT} is reserved for Offhost's runtime.`;
        return undefined;
      }),
    ),
    // rsconnect-python sends null unless --mount says read_only=true.
    read_only: z
      .boolean()
      .nullish()
      .transform((r) => r ?? false),
  }),
});
export type VolumeSource =
  | { volume_type: 'nfs'; nfs_host: string; nfs_export_path: string }
  | { volume_type: 'pvc'; pvc_name: string };
export interface VolumeMount {
  source: VolumeSource;
  target: { path: string; read_only: boolean };
}

const volumeMountsSchema = capped(volumeMountSchema, LIMITS.volumeMounts, 'Too many volume mounts')
  .nullish()
  .transform((mounts): VolumeMount[] =>
    (mounts ?? []).map((m) => {
      const source: VolumeSource =
        m.source.volume_type === 'nfs'
          ? { volume_type: 'nfs', nfs_host: m.source.nfs_host, nfs_export_path: m.source.nfs_export_path }
          : { volume_type: 'pvc', pvc_name: m.source.pvc_name };
      return { source, target: { path: m.target.path, read_only: m.target.read_only } };
    }),
  )
  .superRefine((mounts, ctx) => {
    const seen = new Map<string, number>();
    mounts.forEach((m, i) => {
      const first = seen.get(m.target.path);
      if (first !== undefined) ctx.addIssue({ code: 'custom', path: [i, 'target', 'path'], message: `Two volumes are mounted at ${m.target.path}.` });
      else seen.set(m.target.path, i);
    });
  });

const titleSchema = z
  .string({ error: (i) => (i.input === undefined || i.input === null ? 'A title is required (1 to 64 characters).' : 'The title must be text.') })
  .transform((s) => s.trim())
  .superRefine(
    textRule((t) => {
      if (t.length === 0) return 'A title is required (1 to 64 characters).';
      // Count before scanning, so a megabyte of title is refused for its length alone.
      if (t.length > 64 * 2 || [...t].length > 64) return `The title is ${[...t].length} characters long; the limit is 64.`;
      return forbiddenCharacterProblem(t, 'The title', '', 'a title is one line of plain text.');
    }),
  );

const descriptionSchema = z
  .string({ error: 'The description must be text.' })
  .nullish()
  // Windows line ends become plain line feeds; a lone carriage return is refused below.
  .transform((s) => (s ?? '').replace(/\r\n/g, '\n'))
  .superRefine(
    textRule((d) =>
      d.length > 4096 * 2 || [...d].length > 4096
        ? `The description is ${[...d].length} characters long; the limit is 4096.`
        : forbiddenCharacterProblem(d, 'The description', '\n\t', 'only line feeds and tabs are allowed.'),
    ),
  );

const matchingSchema = z
  .enum(MATCHING, { error: (i) => `Matching must be "any", "exact" or "none", not ${quote(i.input)}.` })
  .nullish()
  .transform((m) => m ?? 'any');

const supervisorSchema = z
  .string({ error: 'The supervisor must be text (a command or script path).' })
  .nullish()
  .transform((s) => (s == null || s.trim() === '' ? null : s))
  .superRefine((s, ctx) => {
    if (s !== null && CONTROL_CHARS.test(s))
      ctx.addIssue({ code: 'custom', message: 'The supervisor must not contain tabs, newlines or other control characters.', input: s });
    if (s !== null && s.length > 4096) ctx.addIssue({ code: 'custom', message: 'The supervisor is longer than 4096 characters.', input: s });
  });

const editableFields = {
  title: titleSchema,
  description: descriptionSchema,
  matching: matchingSchema,
  supervisor: supervisorSchema,
  r: installationsSchema,
  python: installationsSchema,
  quarto: installationsSchema,
  tensorflow: installationsSchema,
  nodejs: installationsSchema,
  volume_mounts: volumeMountsSchema,
};

const nameSchema = z
  .string({ error: (i) => (i.input === undefined || i.input === null ? 'The image name ("name") is required.' : 'The image name must be text.') })
  .superRefine(textRule(imageReferenceProblem));

const clusterNameSchema = z
  .string()
  .nullish()
  .superRefine((c, ctx) => {
    if (c != null && c !== CLUSTER_NAME)
      ctx.addIssue({ code: 'custom', message: `cluster_name must be "${CLUSTER_NAME}" (the only cluster type), not ${quote(c)}.`, input: c });
  })
  .transform((): typeof CLUSTER_NAME => CLUSTER_NAME);

/** What a person defines: everything but the identity and timestamps. */
export const environmentSpecSchema = z.strictObject({ name: nameSchema, cluster_name: clusterNameSchema, ...editableFields });
export type EnvironmentSpec = z.output<typeof environmentSpecSchema>;
export type EnvironmentSpecInput = z.input<typeof environmentSpecSchema>;

/** Read-only fields a client may echo back on update (rsconnect does); they are ignored. */
const echoedFields = {
  id: z.unknown().optional(),
  guid: z.unknown().optional(),
  created_time: z.unknown().optional(),
  updated_time: z.unknown().optional(),
  environment_type: z.unknown().optional(),
  managed_by: z.unknown().optional(),
};

/** Full replace of the editable fields. name and cluster_name may be sent but not changed. */
export const environmentUpdateSchema = z
  .strictObject({ name: z.string().optional(), cluster_name: z.string().nullish(), ...editableFields, ...echoedFields })
  .transform(({ id: _i, guid: _g, created_time: _c, updated_time: _u, environment_type: _e, managed_by: _m, ...rest }) => rest);
export type EnvironmentUpdate = z.output<typeof environmentUpdateSchema>;
export type EnvironmentUpdateInput = z.input<typeof environmentUpdateSchema>;

export interface Environment extends Omit<EnvironmentSpec, 'cluster_name'> {
  id: string;
  guid: string;
  cluster_name: typeof CLUSTER_NAME;
  environment_type: typeof CLUSTER_NAME;
  managed_by: string | null;
  created_time: string;
  updated_time: string;
}

// --- errors --------------------------------------------------------------------------------

/** Which stable error code a problem at `path` gets (the same ones Connect uses). */
export function environmentErrorCode(path: readonly PathSegment[], issue?: { code: string }): ErrorCode {
  if (issue?.code === 'too_big') return 'LimitExceeded';
  const [head] = path;
  const last = path[path.length - 1];
  switch (head) {
    case 'title':
      return 'InvalidEnvironmentTitle';
    case 'description':
      return 'InvalidEnvironmentDescription';
    case 'cluster_name':
      return 'InvalidEnvironmentClusterName';
    case 'name':
      return 'InvalidEnvironmentName';
    case 'matching':
      return 'InvalidEnvironmentMatching';
    case 'supervisor':
      return 'InvalidEnvironmentSupervisor';
    case 'volume_mounts':
      return 'InvalidEnvironmentVolume';
  }
  if ((LANGUAGES as readonly PropertyKey[]).includes(head as PropertyKey)) return last === 'path' ? 'InvalidInstallationPath' : 'InvalidInstallationVersion';
  return 'InvalidRequest';
}

export function parseEnvironmentSpec(input: unknown): EnvironmentSpec {
  return parseWith(environmentSpecSchema, input, environmentErrorCode);
}

export function parseEnvironmentUpdate(input: unknown): EnvironmentUpdate {
  return parseWith(environmentUpdateSchema, input, environmentErrorCode);
}

/** A list of specs (the YAML file); error paths read "[3].python.installations[0].version". */
export function parseEnvironmentSpecList(input: unknown): EnvironmentSpec[] {
  if (Array.isArray(input) && input.length > LIMITS.environmentsPerFile)
    throw new AppError(
      'LimitExceeded',
      `The file lists ${input.length} environments; the limit is ${LIMITS.environmentsPerFile} per file or import.`,
      `[${LIMITS.environmentsPerFile}]`,
    );
  const list = z.array(environmentSpecSchema, { error: 'Expected a list of environments.' });
  return parseWith(list, input, (path, issue) => environmentErrorCode(path.slice(1), issue));
}

// --- helpers shared by UI and core --------------------------------------------------------

/** Installations sorted newest first, for display. */
export function sortedInstallations(i: Installations): Installation[] {
  return [...i.installations].sort((a, b) => compareVersions(parseVersion(b.version)!, parseVersion(a.version)!));
}

export function specOf(env: Environment): EnvironmentSpec {
  const { id: _i, guid: _g, created_time: _c, updated_time: _u, environment_type: _e, managed_by: _m, ...spec } = env;
  return spec;
}
