// Execution environments: a container image plus the R/Python/Quarto/... installations inside it.
// Field names follow Posit Connect's /__api__/v1/environments so its clients work against us.
import { z } from 'zod';
import type { ErrorCode } from './errors';
import { parseWith, type PathSegment } from './validation';
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

// --- field rules ---------------------------------------------------------------------------

const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

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
  if (ref !== ref.trim()) return `The image name ${JSON.stringify(ref)} has leading or trailing spaces.`;
  const nameOnly = ref.split('@')[0]!.replace(/:[\w][\w.-]*$/, '');
  if (nameOnly.length > 255) return 'The image name is longer than 255 characters.';
  if (!IMAGE_REF.test(ref)) {
    const repository = nameOnly.includes('/') && /[.:]|^localhost\//.test(nameOnly) ? nameOnly.slice(nameOnly.indexOf('/') + 1) : nameOnly;
    const hint = /\s/.test(ref)
      ? ' It must not contain spaces.'
      : /[A-Z]/.test(repository)
        ? ' Repository names must be lower case.'
        : ' Expected [registry[:port]/]repository[:tag][@digest], e.g. ghcr.io/org/image:1.0.';
    return `${JSON.stringify(ref)} is not a valid image reference.${hint}`;
  }
  return undefined;
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9a-fA-F:]+\])$/;

function absolutePathProblem(path: string, what: string): string | undefined {
  if (path === '') return `${what} is required and must be an absolute path such as /opt/R/4.3.1/bin/R.`;
  if (!path.startsWith('/')) return `${what} must be an absolute path (start with "/"), not ${JSON.stringify(path)}.`;
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
        isVersion(v) ? undefined : `${JSON.stringify(v)} is not a version: write it as numbers separated by dots, e.g. 4.3.1, 3.11.9 or 1.5.57.`,
      ),
    ),
  path: z
    .string({ error: (i) => (i.input === undefined ? 'Each installation needs a "path" to its executable, e.g. /opt/R/4.3.1/bin/R.' : 'The path must be text.') })
    .superRefine(textRule((p) => absolutePathProblem(p, 'The installation path'))),
});
export type Installation = z.output<typeof installationSchema>;

const installationsSchema = z
  .strictObject({ installations: z.array(installationSchema).nullish() })
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
  nfs_host: z.string().superRefine(textRule((h) => (HOST.test(h) ? undefined : `The NFS host must be a host name or IP address, not ${JSON.stringify(h)}.`))),
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
          : `The claim name must be a Kubernetes name (lower case letters, digits, "-" and "."), not ${JSON.stringify(n)}.`,
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
    read_only: z.boolean().default(false),
  }),
});
export type VolumeSource =
  | { volume_type: 'nfs'; nfs_host: string; nfs_export_path: string }
  | { volume_type: 'pvc'; pvc_name: string };
export interface VolumeMount {
  source: VolumeSource;
  target: { path: string; read_only: boolean };
}

const volumeMountsSchema = z
  .array(volumeMountSchema)
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
    textRule((t) =>
      t.length === 0 ? 'A title is required (1 to 64 characters).' : [...t].length > 64 ? `The title is ${[...t].length} characters long; the limit is 64.` : undefined,
    ),
  );

const descriptionSchema = z
  .string({ error: 'The description must be text.' })
  .nullish()
  .transform((s) => s ?? '')
  .superRefine(textRule((d) => ([...d].length > 4096 ? `The description is ${[...d].length} characters long; the limit is 4096.` : undefined)));

const matchingSchema = z
  .enum(MATCHING, { error: (i) => `Matching must be "any", "exact" or "none", not ${JSON.stringify(i.input)}.` })
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
      ctx.addIssue({ code: 'custom', message: `cluster_name must be "${CLUSTER_NAME}" (the only cluster type), not ${JSON.stringify(c)}.`, input: c });
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
export function environmentErrorCode(path: readonly PathSegment[]): ErrorCode {
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
  const list = z.array(environmentSpecSchema, { error: 'Expected a list of environments.' });
  return parseWith(list, input, (path) => environmentErrorCode(path.slice(1)));
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
