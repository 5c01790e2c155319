/** `/pipelines/orders/policies/2/quota` → `pipelines.orders.policies[2].quota`. */
export function pointerToPath(pointer: string, prefix = ''): string {
  let out = prefix;
  for (const raw of pointer.split('/').slice(1)) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(segment) ? `[${segment}]` : out === '' ? segment : `.${segment}`;
  }
  return out;
}

interface AjvLikeError {
  instancePath: string;
  keyword: string;
  message?: string | undefined;
  params: Record<string, unknown>;
}

/** One readable line per schema error, naming the path in the file. */
export function formatSchemaErrors(errors: readonly AjvLikeError[] | null | undefined, prefix: string): string[] {
  return (errors ?? []).map((e) => {
    let path = pointerToPath(e.instancePath, prefix);
    let message = e.message ?? 'is invalid';
    if (e.keyword === 'additionalProperties') {
      path = `${path}${path ? '.' : ''}${String(e.params.additionalProperty)}`;
      message = 'is not a known setting';
    } else if (e.keyword === 'required') {
      path = `${path}${path ? '.' : ''}${String(e.params.missingProperty)}`;
      message = 'is required';
    } else if (e.keyword === 'minimum' && e.params.limit === 1 && e.params.comparison === '>=') {
      message = 'must be a positive integer';
    } else if (e.keyword === 'enum') {
      message = `must be one of ${(e.params.allowedValues as unknown[]).join(', ')}`;
    }
    return `${path || '(root)'}: ${message}`;
  });
}
