/**
 * ETags in one form everywhere they are stored or compared.
 *
 * Azure Storage (and Azurite) answer a blob's properties with the HTTP form,
 * quoted (`"0x8DC…"`), but a container listing gives the same tag unquoted
 * (`0x8DC…`). Stored as they came, one blob seen by the watcher and then by
 * reconciliation was two rejected-blob rows, and an upload first seen in a
 * listing would look changed when its blob-created event arrived. The quoted
 * form is the canonical one: it is what HTTP defines, what conditional
 * requests send, and what most of the SDK returns.
 */
export function canonicalEtag(etag: string): string {
  const trimmed = etag.trim();
  if (trimmed === '') return '';
  // A weak tag keeps its W/ prefix: it is a different validator, not another spelling.
  const weak = trimmed.startsWith('W/');
  const body = weak ? trimmed.slice(2) : trimmed;
  const bare = body.length >= 2 && body.startsWith('"') && body.endsWith('"') ? body.slice(1, -1) : body;
  return `${weak ? 'W/' : ''}"${bare}"`;
}

/** Whether two ETags name the same version, whichever form each came in. */
export function sameEtag(a: string, b: string): boolean {
  return canonicalEtag(a) === canonicalEtag(b);
}
