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

export interface Database {
  environments: EnvironmentsTable;
  audit_log: AuditLogTable;
  api_keys: ApiKeysTable;
  settings: SettingsTable;
  sessions: SessionsTable;
  login_links: LoginLinksTable;
}

export type EnvironmentRow = Selectable<EnvironmentsTable>;
