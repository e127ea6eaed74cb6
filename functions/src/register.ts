import type { HttpFunctionOptions, ServiceBusQueueFunctionOptions, TimerFunctionOptions } from '@azure/functions';
import type { FunctionDef } from '@exhibit/runtime';
import type { FunctionsHost } from './app-instance.js';
import { blobCreatedTrigger } from './blob-created.trigger.js';
import { deadLetterTrigger } from './dead-letter.trigger.js';
import { httpTrigger } from './http.trigger.js';
import { queueTrigger } from './queue.trigger.js';
import { siteTrigger } from './site.trigger.js';
import { timerTrigger } from './timer.trigger.js';

/** The part of `@azure/functions`' `app` we register with; tests pass a recorder with the same shape. */
export interface FunctionRegistrar {
  serviceBusQueue(name: string, options: ServiceBusQueueFunctionOptions): void;
  http(name: string, options: HttpFunctionOptions): void;
  timer(name: string, options: TimerFunctionOptions): void;
}

/** Registers every function of the runtime's table with the trigger Azure uses for its kind. */
export function registerFunctions(registrar: FunctionRegistrar, table: readonly FunctionDef[], host: FunctionsHost): void {
  const names = new Set<string>();
  for (const def of table) {
    if (names.has(def.name)) throw new Error(`function ${def.name} is defined twice`);
    names.add(def.name);
    switch (def.trigger.kind) {
      case 'blob-created':
        registrar.serviceBusQueue(def.name, blobCreatedTrigger(def as Extract<FunctionDef, { trigger: { kind: 'blob-created' } }>, host));
        break;
      case 'queue':
        registrar.serviceBusQueue(def.name, queueTrigger(def as Extract<FunctionDef, { trigger: { kind: 'queue' } }>, host));
        break;
      case 'dead-letter':
        registrar.serviceBusQueue(def.name, deadLetterTrigger(def as Extract<FunctionDef, { trigger: { kind: 'dead-letter' } }>, host));
        break;
      case 'http':
        registrar.http(def.name, httpTrigger(def as Extract<FunctionDef, { trigger: { kind: 'http' } }>, host));
        break;
      case 'site':
        registrar.http(def.name, siteTrigger(def as Extract<FunctionDef, { trigger: { kind: 'site' } }>, host));
        break;
      case 'timer':
        registrar.timer(def.name, timerTrigger(def as Extract<FunctionDef, { trigger: { kind: 'timer' } }>, host));
        break;
      default: {
        const unknown: never = def.trigger;
        throw new Error(`no Azure trigger for ${JSON.stringify(unknown)}`);
      }
    }
  }
}
