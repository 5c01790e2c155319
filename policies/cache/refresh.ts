// Refresh-ahead's requests: the gateway sends them through its own route, in
// process, as its internal operator (platform/pipeline/internal-caller.ts),
// with `Cache-Control: no-cache` (RFC 9111: do not answer from the cache
// without asking the origin). The cache policy honours that directive from
// the internal caller only: a seller or an operator cannot make the gateway
// skip its cache.

export const REFRESH_DIRECTIVE = 'no-cache';

/** `?status=SUBMITTED&...` for a configured query (arrays as repeated parameters), or '' for none. */
export function refreshAheadQuery(query: Record<string, unknown>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    for (const item of Array.isArray(value) ? value : [value]) search.append(name, String(item));
  }
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}
