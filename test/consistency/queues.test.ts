import path from 'node:path';
import { batchMessageIdFor, fileBatchMessage, LIMITS, QUEUES } from '@exhibit/core';
import { encodeEnvelope } from '../../packages/bus/src/envelope.js';
import { SB_DUPLICATE_DETECTION_WINDOW } from '../../packages/bus/src/bus.service-bus.js';
import { describe, expect, it } from 'vitest';
import { BLOB_EVENTS_QUEUE } from '../../functions/src/settings.js';
import { infraDir, resources, stringArray, topLevelProperty, unquote, variable } from './bicep.js';

const serviceBusBicep = path.join(infraDir, 'modules/service-bus.bicep');
const eventsBicep = path.join(infraDir, 'modules/events.bicep');

describe('Service Bus queues in infra/ match the code', () => {
  it('declares exactly one queue per stage the code uses', () => {
    const declared = stringArray(variable(serviceBusBicep, 'stageQueues') ?? '[]');
    expect(declared.length).toBeGreaterThan(0);
    for (const queue of QUEUES) expect(declared, `queue ${queue} missing from service-bus.bicep`).toContain(queue);
    expect([...declared].sort()).toEqual([...QUEUES].sort());
  });

  it('creates every stage queue from that list, plus the blob-events queue the upload trigger reads', () => {
    const queueResources = resources(serviceBusBicep).filter((r) => r.type === 'Microsoft.ServiceBus/namespaces/queues' && !r.existing);
    const loops = queueResources.filter((r) => /\bfor\s+\w+\s+in\s+stageQueues\b/.test(r.body) || r.symbol === 'stage');
    expect(loops).toHaveLength(1);
    expect(unquote(variable(serviceBusBicep, 'blobEventsQueueName'))).toBe(BLOB_EVENTS_QUEUE);
    const named = queueResources.map((r) => topLevelProperty(r.body, 'name'));
    expect(named).toContain('blobEventsQueueName');
  });

  it('dead-letters after LIMITS.maxDeliveryCount deliveries and keeps duplicate detection on', () => {
    expect(Number(variable(serviceBusBicep, 'maxDeliveryCount'))).toBe(LIMITS.maxDeliveryCount);
    const props = variable(serviceBusBicep, 'queueProperties') ?? '';
    expect(props).toMatch(/maxDeliveryCount:\s*maxDeliveryCount\b/);
    expect(props).toMatch(/requiresDuplicateDetection:\s*true/);
    expect(props).toMatch(/deadLetteringOnMessageExpiration:\s*true/);
  });

  it('duplicate-detection-window-of-queues-the-code-creates-shorter-than-biceps', () => {
    // ensureQueues (a namespace without the Bicep deployment) once created PT10M against Bicep's PT1H: a
    // continuation re-sent by a re-drive 30 min later was dropped on one and delivered again on the other.
    const props = variable(serviceBusBicep, 'queueProperties') ?? '';
    const declared = /duplicateDetectionHistoryTimeWindow:\s*'([^']+)'/.exec(props)?.[1];
    expect(declared).toBe('PT1H');
    expect(SB_DUPLICATE_DETECTION_WINDOW).toBe(declared);
  });

  it('carries a full batch message of the longest ids within the message size limit (Storage Queues, Service Bus Standard)', () => {
    const longest = (c: string) => c.repeat(128);
    const body = { caseId: longest('c'), evidenceId: longest('e'), fileIds: Array.from({ length: LIMITS.batchMaxFiles }, (_, i) => `${i}`.padStart(128, 'f')) };
    expect(fileBatchMessage.safeParse(body).success).toBe(true);
    expect(fileBatchMessage.safeParse({ ...body, fileIds: [...body.fileIds, 'one-more'] }).success).toBe(false);
    const messageId = batchMessageIdFor('analyse', body.fileIds);
    expect(messageId.length).toBeLessThanOrEqual(128);
    // encodeEnvelope throws over LIMITS.maxMessageBytes, which is below Service Bus Standard's 256 KB.
    const encoded = encodeEnvelope({ v: 1, messageId, correlationId: `${body.caseId}/${body.evidenceId}`, body });
    expect(Buffer.byteLength(encoded)).toBeLessThan(64 * 1024);
    expect(LIMITS.maxMessageBytes).toBeLessThan(256 * 1024);
  });

  it('routes the evidence container BlobCreated events, and only those, to the blob-events queue', () => {
    const subscription = resources(eventsBicep).find((r) => r.type === 'Microsoft.EventGrid/systemTopics/eventSubscriptions');
    expect(subscription).toBeDefined();
    const body = subscription!.body;
    expect(body).toMatch(/includedEventTypes:\s*\['Microsoft\.Storage\.BlobCreated'\]/);
    expect(body).toContain("subjectBeginsWith: '/blobServices/default/containers/evidence/'");
    expect(body).toMatch(/endpointType:\s*'ServiceBusQueue'/);
    expect(body).toMatch(/resourceId:\s*blobEventsQueue\.id/);
    const queue = resources(eventsBicep).find((r) => r.symbol === 'blobEventsQueue');
    expect(topLevelProperty(queue!.body, 'name')).toBe('blobEventsQueueName');
  });
});
