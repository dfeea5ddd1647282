// Table shapes as Kysely sees them. JSON is stored as text so one schema serves SQLite and PostgreSQL.
import type { Generated, Selectable } from 'kysely';

export interface EnvironmentsTable {
  id: Generated<number>;
  guid: string;
  name: string;
  title: string;
  description: string;
  matching: string;
  supervisor: string | null;
  /** JSON: { r: Installation[], python: [...], quarto, tensorflow, nodejs } */
  installations: string;
  /** JSON: VolumeMount[] */
  volume_mounts: string;
  managed_by: string | null;
  created_time: string;
  updated_time: string;
}

export interface AuditLogTable {
  id: Generated<number>;
  time: string;
  actor: string;
  action: string;
  target_type: string;
  target_id: string;
  before: string | null;
  after: string | null;
}

export interface ApiKeysTable {
  id: Generated<number>;
  name: string;
  /** First characters of the key, so a person can tell keys apart; not a secret. */
  prefix: string;
  key_hash: string;
  role: string;
  /** The user the key acts for (keys made before users existed got one each in migration 0004). */
  user_id: number | null;
  created_by: string;
  created_time: string;
  last_used_time: string | null;
}

export interface SettingsTable {
  key: string;
  value: string;
}

export interface SessionsTable {
  id: Generated<number>;
  token_hash: string;
  /** How it was signed in: the sign-in link's creator ("server start", "cli:alice"). */
  created_by: string;
  created_time: string;
  expires_time: string;
}

export interface LoginLinksTable {
  token_hash: string;
  created_by: string;
  created_time: string;
  expires_time: string;
}

export interface UsersTable {
  id: Generated<number>;
  guid: string;
  username: string;
  email: string;
  first_name: string;
  last_name: string;
  user_role: string;
  locked: number;
  created_time: string;
  updated_time: string;
}

export interface ContentTable {
  id: Generated<number>;
  guid: string;
  name: string;
  title: string | null;
  description: string;
  access_type: string;
  locked: number;
  locked_message: string;
  owner_guid: string | null;
  /** JSON: ContentSettings, in the API's units (cores, bytes, seconds). */
  settings: string;
  app_mode: string;
  content_category: string;
  parameterized: number;
  /** The active bundle (null until one is deployed). */
  bundle_id: number | null;
  environment_guid: string | null;
  image_name: string | null;
  /** JSON: { r_version, py_version, quarto_version, node_version } of the active bundle. */
  runtimes: string;
  created_time: string;
  updated_time: string;
  last_deployed_time: string | null;
}

export interface ContentEnvVarsTable {
  content_id: number;
  name: string;
  value: string;
}

export interface BundlesTable {
  id: Generated<number>;
  content_id: number;
  /** The archive's SHA-256: its file is bundles/<first 2>/<sha256>.tar.gz under the data directory. */
  sha256: string;
  /** bigint: PostgreSQL returns it as text. */
  size: number | string;
  app_mode: string;
  /** JSON: the manifest as uploaded. */
  manifest: string;
  /** JSON: upload metadata (git source, ...). */
  metadata: string;
  created_by: string;
  created_time: string;
}

export interface TasksTable {
  id: string;
  kind: string;
  content_id: number | null;
  bundle_id: number | null;
  activate: number;
  actor: string;
  /** JSON: string[] */
  output: string;
  finished: number;
  code: number;
  error: string;
  result: string | null;
  created_time: string;
  updated_time: string;
}

export interface JobsTable {
  id: Generated<number>;
  key: string;
  content_id: number;
  bundle_id: number;
  task_id: string | null;
  kind: string;
  tag: string;
  state: string;
  /** Start only after this job succeeded (a run or render waits for its build). */
  after_job_id: number | null;
  environment_guid: string;
  image: string;
  /** JSON: JobResources */
  resources: string;
  k8s_namespace: string | null;
  k8s_name: string | null;
  queued_time: string;
  created_time: string | null;
  scheduled_time: string | null;
  image_pulled_time: string | null;
  started_time: string | null;
  ready_time: string | null;
  finished_time: string | null;
  exit_code: number | null;
  reason: string | null;
  message: string | null;
  updated_time: string;
  /** 0007: the node the pod ran on. */
  node_name: Generated<string | null>;
  /** 0007: the pod's log, copied when the job ended (at most the launcher's cap). */
  log_text: Generated<string | null>;
  /** 0007: 1 when log_text holds only the end of a longer log. */
  log_truncated: Generated<number>;
}

/** 0008: a job's CPU and memory samples (main/metrics/). */
export interface JobMetricsTable {
  job_id: number;
  /** 0: raw sample; 60: the average of one minute's samples. */
  res: number;
  /** Epoch seconds (bigint: PostgreSQL returns it as text). */
  t: number | string;
  cpu_millicores: number;
  memory_bytes: number | string;
}

export interface EnvironmentPermissionsTable {
  id: Generated<number>;
  guid: string;
  environment_guid: string;
  user_guid: string | null;
  group_guid: string | null;
  created_time: string;
}

/** The execution-settings bounds: a single row (id 1); see main/quotas/store.ts. */
export interface QuotasTable {
  id: number;
  version: number;
  /** JSON, base units: { cpu_request: {min, default, max} (millicores), memory_*: bytes, ... } */
  settings: string;
  updated_time: string;
  updated_by: string;
}

export interface Database {
  environments: EnvironmentsTable;
  audit_log: AuditLogTable;
  api_keys: ApiKeysTable;
  settings: SettingsTable;
  sessions: SessionsTable;
  login_links: LoginLinksTable;
  quotas: QuotasTable;
  users: UsersTable;
  content: ContentTable;
  content_env_vars: ContentEnvVarsTable;
  bundles: BundlesTable;
  tasks: TasksTable;
  jobs: JobsTable;
  job_metrics: JobMetricsTable;
  environment_permissions: EnvironmentPermissionsTable;
}

export type EnvironmentRow = Selectable<EnvironmentsTable>;
