import { randomBytes } from 'node:crypto';
import { describe, it } from 'vitest';
import { loadTestSettings } from '@exhibit/core';
import { createServiceBusBus } from '../src/bus.service-bus.js';
import { busContract } from './bus.contract.js';

/**
 * Service Bus has no local emulator we can start here, so this runs only
 * against a real namespace: set EXHIBIT_TEST_SERVICEBUS_CONNECTION_STRING to a
 * connection string with Manage rights on a throw-away namespace. Each bus
 * creates prefixed queues with a 5 s lock and deletes them on close.
 */
const connectionString = loadTestSettings().serviceBusConnectionString;
const LOCK_MS = 5_000;

if (!connectionString) {
  describe('bus contract: service bus', () => {
    it.skip('needs EXHIBIT_TEST_SERVICEBUS_CONNECTION_STRING (a throw-away namespace with Manage rights)', () => {});
  });
} else {
  busContract(
    'service bus',
    async () => {
      const bus = createServiceBusBus(
        { connectionString },
        { queuePrefix: `c${randomBytes(4).toString('hex')}-`, manageQueues: true, lockDurationMs: LOCK_MS },
      );
      const close = bus.close.bind(bus);
      bus.close = async () => {
        try {
          await bus.deleteQueues();
        } finally {
          await close();
        }
      };
      return bus;
    },
    { lockMs: LOCK_MS, lockExpiryMs: LOCK_MS, patienceMs: 60_000 },
  );
}
