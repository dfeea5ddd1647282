// Versioned migrations, applied in order at start. Never edit one that has shipped: add the next.
import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type Migration } from 'kysely';
import type { Dialect } from './db';

export function migrations(dialect: Dialect): Record<string, Migration> {
  // SQLite's INTEGER PRIMARY KEY is its rowid; PostgreSQL wants an identity column.
  const id = (db: Kysely<unknown>, table: string) =>
    dialect === 'postgres'
      ? db.schema.createTable(table).addColumn('id', 'integer', (c) => c.primaryKey().generatedAlwaysAsIdentity())
      : db.schema.createTable(table).addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());

  return {
    '0001_environments_audit_keys': {
      async up(db) {
        await id(db, 'environments')
          .addColumn('guid', 'text', (c) => c.notNull().unique())
          .addColumn('name', 'text', (c) => c.notNull().unique())
          .addColumn('title', 'text', (c) => c.notNull())
          .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
          .addColumn('matching', 'text', (c) => c.notNull().check(sql`matching in ('any', 'exact', 'none')`))
          .addColumn('supervisor', 'text')
          .addColumn('installations', 'text', (c) => c.notNull())
          .addColumn('volume_mounts', 'text', (c) => c.notNull().defaultTo('[]'))
          .addColumn('managed_by', 'text')
          .addColumn('created_time', 'text', (c) => c.notNull())
          .addColumn('updated_time', 'text', (c) => c.notNull())
          .execute();

        await id(db, 'audit_log')
          .addColumn('time', 'text', (c) => c.notNull())
          .addColumn('actor', 'text', (c) => c.notNull())
          .addColumn('action', 'text', (c) => c.notNull())
          .addColumn('target_type', 'text', (c) => c.notNull())
          .addColumn('target_id', 'text', (c) => c.notNull())
          .addColumn('before', 'text')
          .addColumn('after', 'text')
          .execute();
        await db.schema.createIndex('audit_log_target').on('audit_log').columns(['target_type', 'target_id']).execute();
        await db.schema.createIndex('audit_log_time').on('audit_log').column('time').execute();

        await id(db, 'api_keys')
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('prefix', 'text', (c) => c.notNull())
          .addColumn('key_hash', 'text', (c) => c.notNull().unique())
          .addColumn('role', 'text', (c) => c.notNull().check(sql`role in ('viewer', 'publisher', 'admin')`))
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('created_time', 'text', (c) => c.notNull())
          .addColumn('last_used_time', 'text')
          .execute();

        await db.schema
          .createTable('settings')
          .addColumn('key', 'text', (c) => c.primaryKey())
          .addColumn('value', 'text', (c) => c.notNull())
          .execute();
      },
    },
    '0002_sessions_login_links': {
      // Browser sessions live server-side so each can be listed and revoked; sign-in links are
      // single-use and short-lived. Only SHA-256 hashes of either secret are stored.
      async up(db) {
        await id(db, 'sessions')
          .addColumn('token_hash', 'text', (c) => c.notNull().unique())
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('created_time', 'text', (c) => c.notNull())
          .addColumn('expires_time', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('login_links')
          .addColumn('token_hash', 'text', (c) => c.primaryKey())
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('created_time', 'text', (c) => c.notNull())
          .addColumn('expires_time', 'text', (c) => c.notNull())
          .execute();
      },
    },
    '0004_users_content_bundles_tasks_jobs': {
      // Users own API keys and content; content carries its settings (JSON, API units) and what
      // its last deploy chose; bundles are rows pointing at content-addressed archives on disk;
      // tasks are what Connect's clients poll; jobs are the launcher's work queue (DESIGN.md §4).
      async up(db) {
        await id(db, 'users')
          .addColumn('guid', 'text', (c) => c.notNull().unique())
          .addColumn('username', 'text', (c) => c.notNull().unique())
          .addColumn('email', 'text', (c) => c.notNull().defaultTo(''))
          .addColumn('first_name', 'text', (c) => c.notNull().defaultTo(''))
          .addColumn('last_name', 'text', (c) => c.notNull().defaultTo(''))
          .addColumn('user_role', 'text', (c) => c.notNull().check(sql`user_role in ('viewer', 'publisher', 'admin')`))
          .addColumn('locked', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('created_time', 'text', (c) => c.notNull())
          .addColumn('updated_time', 'text', (c) => c.notNull())
          .execute();
        await db.schema.alterTable('api_keys').addColumn('user_id', 'integer', (c) => c.references('users.id')).execute();
        // Every existing key gets a user of its own role, named after the key.
        const keys = await sql<{ id: number; name: string; role: string; created_time: string }>`select id, name, role, created_time from api_keys order by id`.execute(db);
        const taken = new Set<string>();
        for (const k of keys.rows) {
          let username = k.name.toLowerCase().replace(/[^a-z0-9_.-]+/g, '_').replace(/^_+|_+$/g, '') || 'key';
          if (taken.has(username)) username = `${username}_${k.id}`;
          taken.add(username);
          const guid = randomUUID();
          await sql`insert into users (guid, username, user_role, created_time, updated_time) values (${guid}, ${username}, ${k.role}, ${k.created_time}, ${k.created_time})`.execute(db);
          await sql`update api_keys set user_id = (select id from users where guid = ${guid}) where id = ${k.id}`.execute(db);
        }

        await id(db, 'content')
          .addColumn('guid', 'text', (c) => c.notNull().unique())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('title', 'text')
          .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
          .addColumn('access_type', 'text', (c) => c.notNull().check(sql`access_type in ('all', 'logged_in', 'acl')`))
          .addColumn('locked', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('locked_message', 'text', (c) => c.notNull().defaultTo(''))
          .addColumn('owner_guid', 'text')
          .addColumn('settings', 'text', (c) => c.notNull())
          .addColumn('app_mode', 'text', (c) => c.notNull().defaultTo('unknown'))
          .addColumn('content_category', 'text', (c) => c.notNull().defaultTo(''))
          .addColumn('parameterized', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('bundle_id', 'integer')
          .addColumn('environment_guid', 'text')
          .addColumn('image_name', 'text')
          .addColumn('runtimes', 'text', (c) => c.notNull().defaultTo('{}'))
          .addColumn('created_time', 'text', (c) => c.notNull())
          .addColumn('updated_time', 'text', (c) => c.notNull())
          .addColumn('last_deployed_time', 'text')
          .execute();
        await db.schema.createIndex('content_owner_name').on('content').columns(['owner_guid', 'name']).execute();
        await db.schema.createIndex('content_name').on('content').column('name').execute();

        await db.schema
          .createTable('content_env_vars')
          .addColumn('content_id', 'integer', (c) => c.notNull().references('content.id').onDelete('cascade'))
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('value', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('content_env_vars_pk', ['content_id', 'name'])
          .execute();

        await id(db, 'bundles')
          .addColumn('content_id', 'integer', (c) => c.notNull().references('content.id').onDelete('cascade'))
          .addColumn('sha256', 'text', (c) => c.notNull())
          .addColumn('size', 'bigint', (c) => c.notNull())
          .addColumn('app_mode', 'text', (c) => c.notNull())
          .addColumn('manifest', 'text', (c) => c.notNull())
          .addColumn('metadata', 'text', (c) => c.notNull().defaultTo('{}'))
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('created_time', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('bundles_content').on('bundles').column('content_id').execute();
        await db.schema.createIndex('bundles_sha256').on('bundles').column('sha256').execute();

        await db.schema
          .createTable('tasks')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('content_id', 'integer', (c) => c.references('content.id').onDelete('cascade'))
          .addColumn('bundle_id', 'integer')
          .addColumn('activate', 'integer', (c) => c.notNull().defaultTo(1))
          .addColumn('actor', 'text', (c) => c.notNull())
          .addColumn('output', 'text', (c) => c.notNull().defaultTo('[]'))
          .addColumn('finished', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('code', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('error', 'text', (c) => c.notNull().defaultTo(''))
          .addColumn('result', 'text')
          .addColumn('created_time', 'text', (c) => c.notNull())
          .addColumn('updated_time', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('tasks_content').on('tasks').column('content_id').execute();

        await id(db, 'jobs')
          .addColumn('key', 'text', (c) => c.notNull().unique())
          .addColumn('content_id', 'integer', (c) => c.notNull().references('content.id').onDelete('cascade'))
          .addColumn('bundle_id', 'integer', (c) => c.notNull())
          .addColumn('task_id', 'text')
          .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('build', 'render', 'run')`))
          .addColumn('tag', 'text', (c) => c.notNull())
          .addColumn('state', 'text', (c) =>
            c.notNull().check(sql`state in ('queued', 'creating', 'pending', 'running', 'succeeded', 'failed', 'cancelled', 'lost')`),
          )
          .addColumn('after_job_id', 'integer')
          .addColumn('environment_guid', 'text', (c) => c.notNull())
          .addColumn('image', 'text', (c) => c.notNull())
          .addColumn('resources', 'text', (c) => c.notNull())
          .addColumn('k8s_namespace', 'text')
          .addColumn('k8s_name', 'text')
          .addColumn('queued_time', 'text', (c) => c.notNull())
          .addColumn('created_time', 'text')
          .addColumn('scheduled_time', 'text')
          .addColumn('image_pulled_time', 'text')
          .addColumn('started_time', 'text')
          .addColumn('ready_time', 'text')
          .addColumn('finished_time', 'text')
          .addColumn('exit_code', 'integer')
          .addColumn('reason', 'text')
          .addColumn('message', 'text')
          .addColumn('updated_time', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('jobs_state').on('jobs').columns(['state', 'id']).execute();
        await db.schema.createIndex('jobs_content').on('jobs').column('content_id').execute();

        await id(db, 'environment_permissions')
          .addColumn('guid', 'text', (c) => c.notNull().unique())
          .addColumn('environment_guid', 'text', (c) => c.notNull())
          .addColumn('user_guid', 'text')
          .addColumn('group_guid', 'text')
          .addColumn('created_time', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('environment_permissions_env').on('environment_permissions').column('environment_guid').execute();
      },
    },
    '0005_quotas': {
      // The execution-settings bounds: one row (id 1), absent until first saved (the built-in
      // defaults apply). JSON in base units (millicores, bytes); `version` counts saves, so a
      // save can insist on the version it previewed.
      async up(db) {
        await db.schema
          .createTable('quotas')
          .addColumn('id', 'integer', (c) => c.primaryKey().check(sql`id = 1`))
          .addColumn('version', 'integer', (c) => c.notNull())
          .addColumn('settings', 'text', (c) => c.notNull())
          .addColumn('updated_time', 'text', (c) => c.notNull())
          .addColumn('updated_by', 'text', (c) => c.notNull())
          .execute();
      },
    },
    '0006_content_name_unique': {
      // Content names are unique per owner (Connect's rule); the index makes two creates racing
      // past the service's check fail instead of both succeeding. Content without an owner (made
      // by a browser session) is not covered: NULLs are distinct in both databases.
      async up(db) {
        await db.schema.dropIndex('content_owner_name').execute();
        await db.schema.createIndex('content_owner_name_unique').on('content').columns(['owner_guid', 'name']).unique().execute();
      },
    },
    '0007_jobs_launcher': {
      // The launcher's additions to jobs (issue 9): the node a pod ran on (Connect's hostname), and
      // the pod's log copied here when the job ends (capped), so finished jobs keep their logs
      // after Kubernetes removes the pod.
      async up(db) {
        await db.schema.alterTable('jobs').addColumn('node_name', 'text').execute();
        await db.schema.alterTable('jobs').addColumn('log_text', 'text').execute();
        await db.schema.alterTable('jobs').addColumn('log_truncated', 'integer', (c) => c.notNull().defaultTo(0)).execute();
      },
    },
    '0008_job_metrics': {
      // CPU and memory samples of each job's pod (issue 11; main/metrics/): raw as sampled from
      // metrics.k8s.io (res 0) and minute averages (res 60) once raw ones age out. t is epoch
      // seconds (the PodMetrics timestamp, or the minute's start). One row per job, resolution and
      // time: the primary key makes a repeated sample harmless and serves a job's history.
      async up(db) {
        let table = db.schema
          .createTable('job_metrics')
          .addColumn('job_id', 'integer', (c) => c.notNull().references('jobs.id').onDelete('cascade'))
          .addColumn('res', 'integer', (c) => c.notNull())
          .addColumn('t', 'bigint', (c) => c.notNull())
          .addColumn('cpu_millicores', 'integer', (c) => c.notNull())
          .addColumn('memory_bytes', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('job_metrics_pk', ['job_id', 'res', 't']);
        if (dialect === 'sqlite') table = table.modifyEnd(sql`without rowid`);
        await table.execute();
        // Retention and downsampling select by resolution and age.
        await db.schema.createIndex('job_metrics_res_t').on('job_metrics').columns(['res', 't']).execute();
        // Processes lists the jobs that finished in the last hours.
        await db.schema.createIndex('jobs_finished_time').on('jobs').column('finished_time').execute();
      },
    },
  };
}
