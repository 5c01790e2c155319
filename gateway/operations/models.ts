// POST /v1/models: a 3D model streamed through to the MES's storage, never
// buffered whole. The plan's upload cap answers 413 before anything is read
// when Content-Length says so, and stops the stream when a chunked upload
// passes it. The MES checks the format by content.

import { basename } from 'node:path';
import { Transform } from 'node:stream';
import type { Readable } from 'node:stream';
import { limitsFor } from '../../platform/pipeline/plan-limits.ts';
import { FacetError } from '../../platform/errors/facet-error.ts';
import { MES } from '../../platform/upstream/operations.ts';
import { ClientBodyError } from '../../platform/upstream/failures.ts';
import { consumerOf } from './orders.ts';
import { records, type ModelRecord } from './records.ts';
import type { HandlerFactory } from './types.ts';

export type PublicModel = Omit<ModelRecord, 'seller_id'>;

function tooLarge(cap: number): FacetError {
  return new FacetError('FACET_ERR_BODY_TOO_LARGE', { detail: `Your plan accepts models up to ${cap} bytes` });
}

/** A safe file name from X-Filename: no path, printable, bounded. */
function filenameOf(header: unknown): string {
  if (typeof header !== 'string') return 'model';
  const name = basename(header.replace(/\\/g, '/')).replace(/[^\x20-\x7e]/g, '').slice(0, 255).trim();
  return name === '' || name === '.' || name === '..' ? 'model' : name;
}

export const uploadModel: HandlerFactory = ({ upstream, services }) =>
  async function uploadModelHandler(request, reply): Promise<PublicModel> {
    const { id: sellerId, plan } = consumerOf(request);
    const cap = limitsFor(services.config, sellerId, plan).uploadMaxBytes;
    const declared = Number(request.headers['content-length']);
    if (Number.isFinite(declared) && declared > cap) throw tooLarge(cap);
    const source = request.body as Readable | undefined;
    if (!source || typeof source.pipe !== 'function') {
      throw new FacetError('FACET_ERR_VALIDATION', { errors: [{ field: 'body', message: 'must be the model file (application/octet-stream)' }] });
    }
    let seen = 0;
    let exceeded = false;
    const counted = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        seen += chunk.length;
        if (seen > cap) {
          exceeded = true;
          callback(new Error('upload cap exceeded'));
        } else callback(null, chunk);
      },
    });
    source.on('error', (error) => counted.destroy(error));
    // The client went away mid-upload: the MES call stops, answered (logged) 499, not an MES failure.
    source.on('close', () => {
      if (!source.readableEnded && !counted.destroyed) counted.destroy(new ClientBodyError('closed', 'The client closed the connection during the upload'));
    });
    source.pipe(counted);
    let response;
    try {
      response = await upstream.json({
        contract: MES.uploadModel,
        method: 'POST',
        path: '/mes/models',
        stream: { body: counted, contentType: 'application/octet-stream' },
        headers: { 'x-filename': filenameOf(request.headers['x-filename']) },
        caller: request,
      });
    } catch (error) {
      if (exceeded) {
        source.resume(); // drain the rest so the client reads our answer
        throw tooLarge(cap);
      }
      throw error;
    }
    if (response.status === 415) throw new FacetError('FACET_ERR_UNSUPPORTED_MODEL', { detail: 'Send a binary or ASCII STL, an OBJ or a 3MF file' });
    if (response.status === 413) throw tooLarge(cap);
    if (response.status === 400) throw new FacetError('FACET_ERR_VALIDATION', { errors: [{ field: 'body', message: 'is not a readable model file' }] });
    if (response.status !== 201) throw new FacetError('FACET_ERR_UPSTREAM_BAD_RESPONSE', { detail: `mes answered ${response.status}` });
    const m = response.body;
    const model: PublicModel = { id: m.id, filename: m.filename, format: m.format, sha256: m.sha256, polygons: m.polygons, size_bytes: m.size_bytes, created_at: m.created_at };
    await records.model.put(services.state, { ...model, seller_id: sellerId });
    reply.code(201);
    return model;
  };
