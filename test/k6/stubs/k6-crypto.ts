// Stand-in for `k6/crypto` (the encodings k6 documents).
import { createHmac } from 'node:crypto';

function encode(digest: Buffer, encoding: string): string | ArrayBuffer {
  switch (encoding) {
    case 'hex':
      return digest.toString('hex');
    case 'base64':
      return digest.toString('base64');
    case 'base64url':
      return digest.toString('base64url') + '='.repeat((4 - (digest.toString('base64url').length % 4)) % 4);
    case 'base64rawurl':
      return digest.toString('base64url');
    case 'binary':
      return new Uint8Array(digest).buffer;
    default:
      throw new Error(`k6/crypto: unknown output encoding ${encoding}`);
  }
}

export function hmac(algorithm: string, secret: string | ArrayBuffer, input: string | ArrayBuffer, outputEncoding: string): string | ArrayBuffer {
  const key = typeof secret === 'string' ? secret : Buffer.from(secret);
  const data = typeof input === 'string' ? input : Buffer.from(input);
  return encode(createHmac(algorithm, key).update(data).digest(), outputEncoding);
}

export default { hmac };
