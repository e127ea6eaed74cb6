/**
 * The OpenAPI document as one readable HTML page: no scripts, no external
 * styles or fonts, so it works offline and under a strict CSP. Generated from
 * the document itself, so it cannot drift from the routes.
 */

type Json = Record<string, unknown>;

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const esc = (v: unknown): string => String(v ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c]!);

function accessText(access: unknown): string {
  if (access === 'public') return 'public (no token)';
  const a = access as { roles?: string[]; caseScoped?: boolean; anyCaseRoles?: string[]; newCaseRoles?: string[] };
  const parts = [`roles: ${(a.roles ?? []).join(', ')}`];
  if (a.caseScoped) parts.push('only on cases the caller is assigned to');
  if (a.anyCaseRoles?.length) parts.push(`${a.anyCaseRoles.join(', ')} on any case`);
  if (a.newCaseRoles?.length) parts.push(`${a.newCaseRoles.join(', ')} may open a new case`);
  return parts.join('; ');
}

function schemaText(schema: unknown): string {
  const s = (schema ?? {}) as Json;
  if (Array.isArray(s.enum)) return `one of ${s.enum.map((v) => JSON.stringify(v)).join(', ')}`;
  const bits = [typeof s.type === 'string' ? s.type : ''];
  if (typeof s.pattern === 'string') bits.push(`pattern ${s.pattern}`);
  if (typeof s.maxLength === 'number') bits.push(`≤ ${s.maxLength} chars`);
  return bits.filter(Boolean).join(', ');
}

function operationHtml(path: string, method: string, op: Json): string {
  const params = (op.parameters as Json[] | undefined) ?? [];
  const responses = (op.responses as Record<string, Json> | undefined) ?? {};
  const paramRows = params
    .map((p) => `<tr><td><code>${esc(p.name)}</code></td><td>${esc(p.in)}</td><td>${p.required ? 'yes' : ''}</td><td>${esc(schemaText(p.schema))}</td><td>${esc(p.description)}</td></tr>`)
    .join('');
  const responseRows = Object.entries(responses)
    .map(([status, r]) => {
      const content = r.content as Record<string, { schema?: unknown }> | undefined;
      const body = content
        ? Object.entries(content)
            .map(([type, c]) => `<details><summary>${esc(type)}</summary><pre>${esc(JSON.stringify(c.schema, null, 2))}</pre></details>`)
            .join('')
        : '';
      return `<tr><td>${esc(status)}</td><td>${esc(r.description)}${body}</td></tr>`;
    })
    .join('');
  const body = op.requestBody as { content?: Record<string, { schema?: unknown }> } | undefined;
  const bodyHtml = body?.content
    ? `<h4>Request body</h4>${Object.entries(body.content).map(([type, c]) => `<details open><summary>${esc(type)}</summary><pre>${esc(JSON.stringify(c.schema, null, 2))}</pre></details>`).join('')}`
    : '';
  const id = `op-${esc(op.operationId)}`;
  return `<section id="${id}">
<h3><span class="m m-${esc(method)}">${esc(method.toUpperCase())}</span> <code>/api${esc(path)}</code></h3>
<p><strong>${esc(op.summary)}</strong> <small>(${esc(op.operationId)})</small></p>
${op.description ? `<p>${esc(op.description)}</p>` : ''}
<p class="access">Access: ${esc(accessText(op['x-exhibit-access']))}</p>
${params.length ? `<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>required</th><th>type</th><th>meaning</th></tr>${paramRows}</table>` : ''}
${bodyHtml}
<h4>Responses</h4><table><tr><th>status</th><th>meaning</th></tr>${responseRows}</table>
</section>`;
}

const STYLE = `body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:70em;padding:1em 2em;color:#111;background:#fff}
code,pre{font-family:ui-monospace,monospace}pre{background:#f4f4f4;padding:.5em;overflow:auto;font-size:12px}
table{border-collapse:collapse;margin:.3em 0}td,th{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}
section{border-top:1px solid #999;padding:.5em 0}.m{display:inline-block;min-width:4.5em;text-align:center;color:#fff;border-radius:3px;padding:0 .3em}
.m-get{background:#205d9c}.m-post{background:#1d6b34}.m-put,.m-patch{background:#7a5200}.m-delete{background:#9c1f1f}.access{color:#333}
nav li{margin:.1em 0}`;

export function renderOpenApiHtml(doc: Json): string {
  const info = (doc.info ?? {}) as Json;
  const paths = (doc.paths ?? {}) as Record<string, Record<string, Json>>;
  const ops = Object.entries(paths)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, op })));
  const nav = ops.map(({ path, method, op }) => `<li><a href="#op-${esc(op.operationId)}">${esc(method.toUpperCase())} ${esc(path)}</a> — ${esc(op.summary)}</li>`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(info.title)} ${esc(info.version)}</title><style>${STYLE}</style></head><body>
<header><h1>${esc(info.title)} <small>${esc(info.version)}</small></h1><p>${esc(info.description)}</p>
<p>Machine-readable: <a href="/api/openapi.json">/api/openapi.json</a> (OpenAPI ${esc(doc.openapi)}). Send <code>Authorization: Bearer &lt;token&gt;</code> on every route that is not public.</p></header>
<nav><h2>Routes</h2><ul>
${nav}
</ul></nav>
<main><h2>Reference</h2>
${ops.map(({ path, method, op }) => operationHtml(path, method, op)).join('\n')}
</main></body></html>
`;
}
