// The Posit Connect-compatible API under /__api__, one module per concern; each route is a thin
// adapter over the core's services, so roles and validation live once.
import type { FastifyInstance } from 'fastify';
import type { Core } from '../../core';
import { registerBundleRoutes } from './bundles';
import { registerContentRoutes } from './content';
import { registerEnvironmentRoutes } from './environments';
import { registerJobRoutes } from './jobs';
import { registerServerRoutes } from './server';
import { registerServingRoutes } from './serving';
import { registerTaskRoutes } from './tasks';
import { registerUserRoutes } from './users';

export async function registerConnectRoutes(app: FastifyInstance, core: Core): Promise<void> {
  registerServerRoutes(app, core);
  registerUserRoutes(app, core);
  registerEnvironmentRoutes(app, core);
  registerContentRoutes(app, core);
  await registerBundleRoutes(app, core);
  registerTaskRoutes(app, core);
  registerJobRoutes(app, core);
  registerServingRoutes(app, core);
}
