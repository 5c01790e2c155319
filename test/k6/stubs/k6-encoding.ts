// Stand-in for `k6/encoding`: strings are encoded as UTF-8, as k6 does.
export function b64encode(input: string | ArrayBuffer, variant = 'std'): string {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : Buffer.from(input);
  switch (variant) {
    case 'std':
      return bytes.toString('base64');
    case 'rawstd':
      return bytes.toString('base64').replace(/=+$/, '');
    case 'url':
      return bytes.toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
    case 'rawurl':
      return bytes.toString('base64url');
    default:
      throw new Error(`k6/encoding: unknown variant ${variant}`);
  }
}

export default { b64encode };
