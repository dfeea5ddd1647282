// `npm run serve`: the core plus the built UI and the APIs on http://127.0.0.1:3939/.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startHttpServer } from './api/http-server';
import { describeDatabase, loadConfig } from './config';
import { createCore } from './core';
import { LOGIN_LINK_MINUTES } from './auth/session';
import { createLogger } from './log';

const USAGE = `Usage: offhost-server [--host 127.0.0.1] [--port 3939] [--data-dir DIR]
Environment: OFFHOST_PORT, OFFHOST_HOST, OFFHOST_DATA_DIR, DATABASE_URL[_FILE], OFFHOST_BOOTSTRAP_ADMIN_KEY[_FILE], OFFHOST_ENVIRONMENTS_FILE, OFFHOST_PUBLIC_URL, OFFHOST_TRUST_PROXY (see README.md)`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { host: { type: 'string' }, port: { type: 'string' }, 'data-dir': { type: 'string' }, help: { type: 'boolean' } },
    strict: true,
  });
  if (values.help) return void console.log(USAGE);
  const env = { ...process.env, ...(values.port !== undefined ? { OFFHOST_PORT: values.port } : {}) };
  const config = loadConfig(env, {
    ...(values.host ? { host: values.host } : {}),
    ...(values['data-dir'] ? { dataDir: values['data-dir'] } : {}),
  });
  const log = createLogger();
  const core = await createCore(config, log, 'server');
  // The chart's API-key Secret (OFFHOST_BOOTSTRAP_ADMIN_KEY_FILE): an admin key that works from the start.
  if (config.bootstrapAdminKey && (await core.apiKeys.ensureBootstrap(config.bootstrapAdminKey))) log.info('bootstrap admin API key stored (user "admin")');
  const rendererDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../renderer');
  const server = await startHttpServer(core, { rendererDir });
  log.info({ url: server.url, publicUrl: server.publicUrl, database: describeDatabase(config.database) }, 'offhost server listening');
  // The one line a person needs, on stderr so the JSON log on stdout stays machine-readable (and
  // never holds the token).
  const loginUrl = await server.newLoginUrl('server start');
  process.stderr.write(
    `\n  Offhost is running. Open this address in a browser (it signs you in once, within ${LOGIN_LINK_MINUTES} minutes;\n` +
      `  "npx offhost login" makes a new one):\n\n    ${loginUrl}\n\n`,
  );

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    log.info({ signal }, 'shutting down');
    await server.close();
    await core.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((e) => {
  process.stderr.write(`offhost: ${(e as Error).message}\n`);
  process.exit(1);
});
