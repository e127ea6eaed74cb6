import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { createStorageQueueBus } from '../src/bus.storage-queue.js';
import { busContract } from './bus.contract.js';

/** The local bus against Azurite: always runs. A fresh prefix per bus keeps tests apart. */
busContract('storage queue (Azurite)', async () =>
  createStorageQueueBus({
    connectionString: inject('storageConnectionString'),
    queuePrefix: `c${randomBytes(4).toString('hex')}-`,
  }),
);
