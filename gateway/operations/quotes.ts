// Quotes: a price for a model and parameters. A price the same seller got
// for the same model content (sha256) and parameters answers 200 at once; otherwise the
// MES price job is submitted (202 + Location + Retry-After) and its result
// arrives as a quote.ready event (gateway/events.ts) or, as a fallback, is
// read from the MES when the seller polls.

import { createHash, randomBytes } from 'node:crypto';
import type { OrderParameters, Price } from '../../contracts/orders.ts';
import { limitsFor } from '../../platform/pipeline/plan-limits.ts';
import { FacetError } from '../../platform/errors/facet-error.ts';
import type { UpstreamWaitSink } from '../../platform/metrics/upstream-wait.ts';
import type { GatewayServices } from '../services.ts';
import type { ContractedUpstream } from '../../platform/upstream/client.ts';
import { MES } from '../../platform/upstream/operations.ts';
import { consumerOf } from './orders.ts';
import { records, type QuoteRecord } from './records.ts';
import type { HandlerFactory } from './types.ts';

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

function encodeId(prefix: string, bytes: Uint8Array, length: number): string {
  let out = prefix;
  for (const b of bytes.subarray(0, length)) out += ALPHABET[b % ALPHABET.length];
  return out;
}

export function newId(prefix: string, length = 12): string {
  return encodeId(prefix, randomBytes(length), length);
}

/** The same id for the same inputs: an id that a retry must find again. */
export function derivedId(prefix: string, parts: readonly string[], length = 16): string {
  return encodeId(prefix, createHash('sha256').update(parts.join('\n')).digest(), length);
}

/** A price-job slot expires on its own after the longest plausible job, even if no one polls. */
export const PRICE_JOB_SLOT_MS = 45 * 60_000;
export const PRICE_JOBS_RETRY_AFTER_SEC = '30';

export type PublicQuote = Omit<QuoteRecord, 'seller_id' | 'sha256' | 'price_job_id'>;

export function toPublicQuote(q: QuoteRecord): PublicQuote {
  return { id: q.id, status: q.status, model_id: q.model_id, parameters: q.parameters, price: q.price, error: q.error, created_at: q.created_at, updated_at: q.updated_at };
}

/** Records a finished price job on its quote (idempotent: events and polls may both do it). */
export async function settleQuote(services: GatewayServices, quote: QuoteRecord, outcome: { price: Price | null; error: string | null }): Promise<QuoteRecord> {
  if (quote.status !== 'pending') return quote;
  const settled: QuoteRecord = {
    ...quote,
    status: outcome.price ? 'ready' : 'failed',
    price: outcome.price,
    error: outcome.price ? null : (outcome.error ?? 'price job failed'),
    updated_at: new Date().toISOString(),
  };
  await records.quote.put(services.state, settled);
  if (settled.price) await records.price.put(services.state, quote.seller_id, quote.sha256, quote.parameters, settled.price);
  await services.state.removeMember(records.priceJobs.key(quote.seller_id), quote.id);
  return settled;
}

async function pollPriceJob(upstream: ContractedUpstream, services: GatewayServices, quote: QuoteRecord, caller: UpstreamWaitSink): Promise<QuoteRecord> {
  if (quote.status !== 'pending' || !quote.price_job_id) return quote;
  const job = await upstream.json({ contract: MES.getPriceJob, path: `/mes/price-jobs/${encodeURIComponent(quote.price_job_id)}`, caller });
  if (job.status !== 200 || job.body.status === 'pending') return quote;
  return settleQuote(services, quote, { price: job.body.price ?? null, error: job.body.error ?? null });
}

export const createQuote: HandlerFactory = ({ upstream, services }) =>
  async function createQuoteHandler(request, reply): Promise<PublicQuote> {
    const { id: sellerId, plan } = consumerOf(request);
    const body = request.body as { model_id: string; parameters: OrderParameters };
    const model = await records.model.get(services.state, body.model_id, sellerId);
    if (!model) throw new FacetError('FACET_ERR_NOT_FOUND', { detail: `No model ${body.model_id}`, errors: [{ field: 'body.model_id', message: 'is not one of your models' }] });
    const now = new Date().toISOString();
    const quote: QuoteRecord = { id: newId('qt_'), seller_id: sellerId, status: 'pending', model_id: model.id, sha256: model.sha256, parameters: body.parameters, price: null, error: null, price_job_id: null, created_at: now, updated_at: now };

    const known = await records.price.get(services.state, sellerId, model.sha256, body.parameters);
    if (known) {
      const ready: QuoteRecord = { ...quote, status: 'ready', price: known };
      await records.quote.put(services.state, ready);
      return toPublicQuote(ready);
    }

    const cap = limitsFor(services.config, sellerId, plan).concurrentPriceJobs;
    const jobsKey = records.priceJobs.key(sellerId);
    const live = await services.state.addUntil(jobsKey, quote.id, Date.now() + PRICE_JOB_SLOT_MS);
    if (live > cap) {
      await services.state.removeMember(jobsKey, quote.id);
      throw new FacetError('FACET_ERR_PRICE_JOBS_LIMIT', { detail: `Plan ${plan} allows ${cap} price jobs at a time`, headers: { 'retry-after': PRICE_JOBS_RETRY_AFTER_SEC } });
    }
    let job;
    try {
      job = await upstream.json({ contract: MES.submitPriceJob, method: 'POST', path: '/mes/price-jobs', body: { model_id: model.id, parameters: body.parameters, seller_id: sellerId }, caller: request });
    } catch (error) {
      await services.state.removeMember(jobsKey, quote.id);
      throw error;
    }
    if (job.status !== 202 && job.status !== 200) {
      await services.state.removeMember(jobsKey, quote.id);
      throw new FacetError('FACET_ERR_UPSTREAM_BAD_RESPONSE', { detail: `mes answered ${job.status}` });
    }
    const pending: QuoteRecord = { ...quote, price_job_id: job.body.id };
    await records.quote.put(services.state, pending);
    await records.quote.linkPriceJob(services.state, job.body.id, quote.id);
    const wait = Math.min(60, Math.max(1, Math.ceil(job.body.estimated_seconds ?? 5)));
    reply.code(202).header('location', `/v1/quotes/${quote.id}`).header('retry-after', String(wait));
    return toPublicQuote(pending);
  };

export const getQuote: HandlerFactory = ({ upstream, services }) =>
  async function getQuoteHandler(request, reply): Promise<PublicQuote> {
    const sellerId = consumerOf(request).id;
    const { id } = request.params as { id: string };
    const quote = await records.quote.get(services.state, id, sellerId);
    if (!quote) throw new FacetError('FACET_ERR_NOT_FOUND', { detail: `No quote ${id}` });
    const current = await pollPriceJob(upstream, services, quote, request);
    if (current.status === 'pending') reply.header('retry-after', '5');
    return toPublicQuote(current);
  };
