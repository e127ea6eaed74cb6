// One queue per pipeline stage (names from QUEUES in @exhibit/core) plus the
// queue Event Grid fills with the evidence container's BlobCreated events.
// Settings mirror LIMITS: a message is delivered at most maxDeliveryCount
// times, then dead-lettered, where the app's dead-letter functions record it.

param location string
param tags object
param namespaceName string
param privateEndpoints bool

// Must equal QUEUES in packages/core/src/lifecycle.ts, the queues the stage graph
// (packages/pipeline/src/stage-graph.ts) reaches (test/consistency checks both).
var stageQueues = ['hash', 'unpack', 'analyse', 'index']
// Must equal BLOB_EVENTS_QUEUE in functions/src/settings.ts.
var blobEventsQueueName = 'evidence-events'
// Must equal LIMITS.maxDeliveryCount.
var maxDeliveryCount = 5

resource namespace 'Microsoft.ServiceBus/namespaces@2022-10-01-preview' = {
  name: namespaceName
  location: location
  tags: tags
  // Private endpoints need Premium; Standard has duplicate detection and scheduling, all the app uses.
  sku: privateEndpoints ? { name: 'Premium', tier: 'Premium', capacity: 1 } : { name: 'Standard', tier: 'Standard' }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: privateEndpoints ? 'Disabled' : 'Enabled'
  }
}

resource networkRules 'Microsoft.ServiceBus/namespaces/networkRuleSets@2022-10-01-preview' = if (privateEndpoints) {
  parent: namespace
  name: 'default'
  properties: {
    defaultAction: 'Deny'
    publicNetworkAccess: 'Disabled'
    // Event Grid is a trusted service: it delivers blob events with its managed identity.
    trustedServiceAccessEnabled: true
  }
}

var queueProperties = {
  maxDeliveryCount: maxDeliveryCount
  // The Functions host renews the lock while a message runs (host.json maxAutoLockRenewalDuration).
  // A batch message of the analyse and index queues (up to LIMITS.batchMaxFiles files) runs under one
  // stage deadline, LIMITS.stageDeadlineMs plus its grace, shorter than that renewal (test/consistency).
  // Its body names at most batchMaxFiles ids: far below LIMITS.maxMessageBytes and the 256 KB of Standard.
  lockDuration: 'PT5M'
  requiresDuplicateDetection: true
  // Long enough to cover a watchdog re-drive (30 min stall) of a continuation's deterministic message id;
  // ensureQueues creates queues with the same window (SB_DUPLICATE_DETECTION_WINDOW, test/consistency).
  duplicateDetectionHistoryTimeWindow: 'PT1H'
  // The default time-to-live is unlimited, so evidence work never expires silently;
  // anything that does expire (an operator shortened it) is dead-lettered, not dropped.
  deadLetteringOnMessageExpiration: true
  enableBatchedOperations: true
  maxSizeInMegabytes: 5120
}

resource stage 'Microsoft.ServiceBus/namespaces/queues@2022-10-01-preview' = [
  for queue in stageQueues: {
    parent: namespace
    name: queue
    properties: queueProperties
  }
]

resource blobEvents 'Microsoft.ServiceBus/namespaces/queues@2022-10-01-preview' = {
  parent: namespace
  name: blobEventsQueueName
  properties: queueProperties
}

output namespaceName string = namespace.name
output namespaceId string = namespace.id
output fullyQualifiedNamespace string = '${namespace.name}.servicebus.windows.net'
output blobEventsQueueName string = blobEvents.name
