import { AsyncLocalStorage } from 'node:async_hooks';
import type { InvocationContext } from '@azure/functions';
import { createRootLogger, type Logger } from '@exhibit/core';
import type { Invocation } from '@exhibit/runtime';

/**
 * Our pino logs go through the invocation's context.log so the Functions host
 * ties each line to its invocation in Application Insights. Outside an
 * invocation (start-up) lines go to stdout, which the host also collects.
 */
const current = new AsyncLocalStorage<InvocationContext>();

const PINO_LEVELS: Array<[number, 'trace' | 'debug' | 'info' | 'warn' | 'error']> = [
  [50, 'error'],
  [40, 'warn'],
  [30, 'info'],
  [20, 'debug'],
  [0, 'trace'],
];

function levelOf(line: string): 'trace' | 'debug' | 'info' | 'warn' | 'error' {
  const m = /"level":(\d+)/.exec(line);
  const n = m ? Number(m[1]) : 30;
  return PINO_LEVELS.find(([min]) => n >= min)?.[1] ?? 'info';
}

export const invocationLogDestination = {
  write(line: string): void {
    const text = line.endsWith('\n') ? line.slice(0, -1) : line;
    const context = current.getStore();
    if (context) context[levelOf(text)](text);
    else process.stdout.write(`${text}\n`);
  },
};

export function createFunctionsLogger(level: string): Logger {
  return createRootLogger({ level, destination: invocationLogDestination });
}

/** Runs one invocation with its own child logger and the context bound for log routing. */
export function runInvocation<T>(context: InvocationContext, root: Logger, fn: (inv: Invocation) => Promise<T>): Promise<T> {
  const inv: Invocation = {
    invocationId: context.invocationId,
    logger: root.child({ invocationId: context.invocationId, function: context.functionName }),
  };
  return current.run(context, () => fn(inv));
}
