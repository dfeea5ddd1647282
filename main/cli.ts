// `npx offhost …`: administration from a shell, against the same database as the app.
import { parseArgs } from 'node:util';
import { ROLES } from '../shared/api';
import { isRole } from './auth/api-keys';
import { LOGIN_LINK_MINUTES } from './auth/session';
import { describeDatabase, loadConfig, parsePublicUrl } from './config';
import { createCore } from './core';
import { silentLogger } from './log';
import fs from 'node:fs';

const USAGE = `Usage:
  offhost login [--url URL]                                        print a new sign-in address for a browser
                                                                   (works once, within ${LOGIN_LINK_MINUTES} minutes)
  offhost session list                                             list signed-in browser sessions
  offhost session revoke ID|--all                                  sign a session (or every one) out
  offhost key create --role admin|publisher|viewer [--name NAME] [--user USERNAME]
                                                                   print a new API key (shown once) for USERNAME
                                                                   (made with that role when new; default: from NAME)
  offhost key list                                                 list keys (never their values)
  offhost key revoke ID                                            delete a key
  offhost environments export [FILE]                               write all environments as YAML
  offhost environments import FILE                                 create or replace environments from YAML

The database is chosen as for the app: DATABASE_URL, OFFHOST_DATA_DIR (see README.md). The sign-in
address starts with --url, else OFFHOST_PUBLIC_URL, else http://OFFHOST_HOST:OFFHOST_PORT/.`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { role: { type: 'string' }, name: { type: 'string' }, user: { type: 'string' }, url: { type: 'string' }, all: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
    strict: true,
  });
  const [group, command, arg] = positionals;
  if (values.help || !group) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const config = loadConfig();
  const base = values.url !== undefined ? parsePublicUrl(values.url)! : (config.publicUrl ?? new URL(`http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port}/`));
  // No cluster: a shell command must not start the launcher, the Lease or the LimitRange mirror.
  const core = await createCore({ ...config, environmentsFile: null, kube: null }, silentLogger, 'server');
  const actor = `cli:${process.env.USER ?? 'unknown'}`;
  try {
    if (group === 'login' && command === undefined) {
      const token = await core.sessions.createLoginToken(actor);
      console.error(`Open this address in a browser within ${LOGIN_LINK_MINUTES} minutes; it works once:`);
      console.log(`${base.toString()}?token=${token}`);
      return 0;
    }
    if (group === 'session' && command === 'list') {
      for (const s of await core.sessions.list()) console.log(`#${s.id}\tsigned in ${s.createdTime} by ${s.createdBy}\texpires ${s.expiresTime}`);
      return 0;
    }
    if (group === 'session' && command === 'revoke') {
      if (values.all) {
        console.error(`Signed out ${await core.sessions.revoke('all')} session(s).`);
        return 0;
      }
      const id = parseId(arg, 'session', 'offhost session list');
      if ((await core.sessions.revoke(id)) === 0) throw new Error(`There is no session #${id}.`);
      console.error(`Signed out session #${id}.`);
      return 0;
    }
    if (group === 'key' && command === 'create') {
      // No default: a key's power should be a decision, not an accident.
      const role = values.role;
      if (role === undefined) throw new Error(`Give the key's role: --role ${ROLES.join('|')}.`);
      if (!isRole(role)) throw new Error(`--role must be one of ${ROLES.join(', ')}, not ${JSON.stringify(role)}.`);
      const { key, info } = await core.apiKeys.create(values.name ?? `${role} key`, role, actor, values.user !== undefined ? { user: values.user } : {});
      console.error(`Created API key #${info.id} "${info.name}" for user ${info.user?.username} with role ${info.role} in ${describeDatabase(config.database)}.`);
      console.error('It is shown only this once. Use it as:  Authorization: Key <key>');
      console.log(key);
      return 0;
    }
    if (group === 'key' && command === 'list') {
      for (const k of await core.apiKeys.list())
        console.log(`#${k.id}\t${k.role}\t${k.prefix}…\t${k.name}\tuser ${k.user?.username ?? '(none)'}\tcreated ${k.createdTime} by ${k.createdBy}\tlast used ${k.lastUsedTime ?? 'never'}`);
      return 0;
    }
    if (group === 'key' && command === 'revoke') {
      const id = parseId(arg, 'key', 'offhost key list');
      if (!(await core.apiKeys.revoke(id))) throw new Error(`There is no key #${id}.`);
      console.error(`Revoked key #${id}.`);
      return 0;
    }
    if (group === 'environments' && command === 'export') {
      const yaml = await core.environments.exportYaml();
      if (arg) fs.writeFileSync(arg, yaml);
      else process.stdout.write(yaml);
      return 0;
    }
    if (group === 'environments' && command === 'import') {
      if (!arg) throw new Error('Give the YAML file to import.');
      const text = fs.readFileSync(arg, 'utf8');
      const r = await core.environments.importYaml(text, actor);
      console.error(`Imported ${arg}: ${r.created.length} created, ${r.updated.length} updated, ${r.unchanged.length} unchanged.`);
      return 0;
    }
    console.error(USAGE);
    return 2;
  } finally {
    await core.close();
  }
}

/** A row number as the list commands print it ("7" or "#7"); nothing else. */
function parseId(arg: string | undefined, what: string, listCommand: string): number {
  const m = /^#?(\d{1,15})$/.exec(arg?.trim() ?? '');
  if (!m || Number(m[1]) < 1) throw new Error(`Give the number of the ${what} (as "${listCommand}" shows it)${arg === undefined ? '' : `, not ${JSON.stringify(arg.slice(0, 40))}`}.`);
  return Number(m[1]);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    const err = e as Error & { field?: string };
    process.stderr.write(`offhost: ${err.message}${err.field ? ` (at ${err.field})` : ''}\n`);
    process.exit(1);
  },
);
