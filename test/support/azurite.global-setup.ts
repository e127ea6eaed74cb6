import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { azuriteConnectionString } from '@exhibit/core';
import { freePorts, startAzurite } from '../../packages/host/src/azurite.process.js';

/**
 * One Azurite for the whole integration tier, on free ports with a throw-away
 * folder. Tests read the connection string with inject('storageConnectionString').
 */
export default async function setup(project: TestProject) {
  const location = await mkdtemp(path.join(os.tmpdir(), 'exhibit-azurite-'));
  const [blobPort, queuePort] = (await freePorts(2)) as [number, number];
  const azurite = await startAzurite({ location, blobPort, queuePort });
  project.provide('storageConnectionString', azuriteConnectionString('127.0.0.1', blobPort, queuePort));
  return async () => {
    await azurite.stop();
    await rm(location, { recursive: true, force: true });
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    storageConnectionString: string;
  }
}
