import { LIMITS } from './limits.js';

/**
 * An error's details as they cross a thread boundary (structured clone): plain data, at most
 * LIMITS.maxWireErrorDetailsBytes as JSON. Details the clone cannot carry (a function, a cycle JSON cannot
 * measure) are left behind, never the error; details beyond the limit are replaced by a marker naming their size,
 * so a hostile file's names or findings cannot make one error as large as the file.
 */
export function wireErrorDetails(details: Record<string, unknown> | undefined, limitBytes: number = LIMITS.maxWireErrorDetailsBytes): Record<string, unknown> | undefined {
  if (!details) return undefined;
  let bytes: number;
  try {
    // bigint (which structured clone carries) is measured as its digits.
    bytes = Buffer.byteLength(JSON.stringify(details, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value)) ?? '');
  } catch {
    return undefined;
  }
  if (bytes > limitBytes) return { detailsDropped: `${bytes} bytes of details, beyond LIMITS.maxWireErrorDetailsBytes (${limitBytes})` };
  try {
    return structuredClone(details);
  } catch {
    return undefined;
  }
}
