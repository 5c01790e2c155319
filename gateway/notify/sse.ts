// Server-Sent Events framing (WHATWG HTML §9.2). Data is one JSON line, so
// it never needs splitting; ids and names are ours and carry no newlines.

export function sseEvent(id: string | undefined, event: string, data: string): string {
  return `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${data}\n\n`;
}

export function sseComment(text: string): string {
  return `: ${text}\n\n`;
}

/** How long a browser waits before reconnecting. */
export function sseRetry(ms: number): string {
  return `retry: ${ms}\n\n`;
}
