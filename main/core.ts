// The Node core shared by the Electron main process and the headless server: configuration,
// store, services and the handlers behind the API contract. Transports are added on top.
import type { Config } from './config';
import { EventBus } from './events';
import { ApiKeys } from './auth/api-keys';
import { watchEnvironmentsFile, type FileSync } from './environments/file-sync';
import { EnvironmentService } from './environments/service';
import { createHandlers, type Handlers } from './api/handlers';
import type { Logger } from './log';
import { openStore, type Store } from './store/db';

export interface Core {
  config: Config;
  log: Logger;
  store: Store;
  events: EventBus;
  environments: EnvironmentService;
  apiKeys: ApiKeys;
  handlers: Handlers;
  close(): Promise<void>;
}

export async function createCore(config: Config, log: Logger, mode: 'desktop' | 'server'): Promise<Core> {
  const store = await openStore(config.database);
  const events = new EventBus();
  const environments = new EnvironmentService({ store, events });
  const apiKeys = new ApiKeys(store.db);
  let fileSync: FileSync | undefined;
  try {
    if (config.environmentsFile) fileSync = await watchEnvironmentsFile(config.environmentsFile, environments, log);
  } catch (e) {
    await store.close();
    throw e;
  }
  const parts = { config, log, store, events, environments, apiKeys };
  return {
    ...parts,
    handlers: createHandlers(parts, mode),
    async close() {
      fileSync?.close();
      await store.close();
    },
  };
}
