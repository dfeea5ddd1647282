// `npx offhost …`: administration from a shell, against the same database as the app.
import { parseArgs } from 'node:util';
import { ROLES } from '../shared/api';
import { isRole } from './auth/api-keys';
import { describeDatabase, loadConfig } from './config';
import { createCore } from './core';
import { silentLogger } from './log';
import fs from 'node:fs';

const USAGE = `Usage:
  offhost key create --role admin|publisher|viewer [--name NAME]   print a new API key (shown once)
  offhost key list                                                 list keys (never their values)
  offhost key revoke ID                                            delete a key
  offhost environments export [FILE]                               write all environments as YAML
  offhost environments import FILE                                 create or replace environments from YAML

The database is chosen as for the app: DATABASE_URL, OFFHOST_DATA_DIR (see README.md).`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { role: { type: 'string' }, name: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
    strict: true,
  });
  const [group, command, arg] = positionals;
  if (values.help || !group) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const config = loadConfig();
  const core = await createCore({ ...config, environmentsFile: null }, silentLogger, 'server');
  const actor = `cli:${process.env.USER ?? 'unknown'}`;
  try {
    if (group === 'key' && command === 'create') {
      const role = values.role ?? 'admin';
      if (!isRole(role)) throw new Error(`--role must be one of ${ROLES.join(', ')}, not ${JSON.stringify(role)}.`);
      const { key, info } = await core.apiKeys.create(values.name ?? `${role} key`, role, actor);
      console.error(`Created API key #${info.id} "${info.name}" with role ${info.role} in ${describeDatabase(config.database)}.`);
      console.error('It is shown only this once. Use it as:  Authorization: Key <key>');
      console.log(key);
      return 0;
    }
    if (group === 'key' && command === 'list') {
      for (const k of await core.apiKeys.list())
        console.log(`#${k.id}\t${k.role}\t${k.prefix}…\t${k.name}\tcreated ${k.createdTime} by ${k.createdBy}\tlast used ${k.lastUsedTime ?? 'never'}`);
      return 0;
    }
    if (group === 'key' && command === 'revoke') {
      const id = Number(arg);
      if (!Number.isInteger(id)) throw new Error('Give the number of the key to revoke (see "offhost key list").');
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

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    const err = e as Error & { field?: string };
    process.stderr.write(`offhost: ${err.message}${err.field ? ` (at ${err.field})` : ''}\n`);
    process.exit(1);
  },
);
