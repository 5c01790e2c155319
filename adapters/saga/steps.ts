// The forward path: from the current step, as far as it goes without
// waiting. Pricing is the only wait: the job is submitted, the state written
// and the message acked; quote.ready / quote.failed resumes the saga.
//
//   received    → CRM POST /crm/orders (SUBMITTED)     4xx → REJECTED crm_rejected
//   crm_created → quoted: CRM PRICE_CALCULATED (command's price)
//                 else:   pricing_requested → MES POST /mes/price-jobs → pricing (wait)
//                         4xx → REJECTED price_job_rejected
//   pricing_requested (found on redelivery) → MES GET /mes/price-jobs?order_id:
//                 the latest job decides (ready → priced, failed → REJECTED
//                 price_job_failed, pending → pricing); none → submit
//   priced      → CRM MANUFACTURING_APPROVED
//   approved    → MES POST /mes/manufacturing → manufacturing (wait for MES events)
//                 409 {reason} → REJECTED mes_<reason> (e.g. mes_capacity); the
//                 REJECTED status reverts the approval in the CRM

import type { Price } from '../../contracts/orders.ts';
import type { MesPriceJob } from '../../contracts/upstream-answers.ts';
import type { WorkRequest } from '../mes/client.ts';
import type { SagaRun } from './run.ts';

function work(run: SagaRun): WorkRequest {
  const { command } = run.state;
  return { order_id: command.order_id, seller_id: command.seller_id, model_id: command.model.id, parameters: command.parameters };
}

/** CRM create (idempotent by id). False when the CRM refused the order. */
export async function createInCrm(run: SagaRun): Promise<boolean> {
  const res = await run.deps.crm.createOrder(run.state.command);
  if (!res.ok) {
    await run.reject('crm_rejected', `CRM ${res.status}: ${res.error}`);
    return false;
  }
  await run.announce('SUBMITTED');
  await run.checkpoint('crm_created', res.status === 201 ? 'created in CRM' : 'already in CRM');
  return true;
}

export function priced(run: SagaRun, price: Price, note: string): Promise<void> {
  return run.crmStatus('PRICE_CALCULATED', 'priced', { price, note });
}

/** What to do with the order's price job as MES reports it. True when the order is priced now. */
async function useJob(run: SagaRun, job: MesPriceJob, note: string): Promise<boolean> {
  run.state.price_job_id = job.id;
  if (job.status === 'ready' && job.price) {
    // Done already (its quote.ready may still be on its way: it will be a duplicate).
    await priced(run, job.price, `price job ${job.id} already ready`);
    return true;
  }
  if (job.status === 'failed') {
    await run.reject('price_job_failed', job.error ?? `price job ${job.id} failed`);
    return false;
  }
  await run.checkpoint('pricing', `price job ${job.id} ${note}`);
  return false;
}

/**
 * Quoted orders are priced at once; others get one MES price job. The intent
 * (pricing_requested) is written before the submit: a redelivery that finds
 * it looks up what MES holds for the order first, so a job that was
 * submitted and then failed before the saga recorded it is seen as failed,
 * not replaced by a second job. True when priced now.
 */
async function requestPrice(run: SagaRun): Promise<boolean> {
  const { command } = run.state;
  if (command.price) {
    await priced(run, command.price, `quoted${command.quote_id ? ` (${command.quote_id})` : ''}`);
    return true;
  }
  if (run.state.step === 'pricing_requested') {
    const latest = (await run.deps.mes.priceJobsFor(command.order_id)).at(-1);
    if (latest) return useJob(run, latest, 'found after a restart');
  } else {
    await run.checkpoint('pricing_requested');
  }
  const res = await run.deps.mes.submitPriceJob(work(run));
  if (!res.ok) {
    await run.reject('price_job_rejected', `MES ${res.status}: ${res.error}`);
    return false;
  }
  return useJob(run, res.body, res.status === 202 ? 'submitted' : 'already submitted');
}

async function manufacture(run: SagaRun): Promise<void> {
  const res = await run.deps.mes.startManufacturing(work(run));
  if (!res.ok) {
    await run.reject(res.reason ? `mes_${res.reason}` : 'mes_rejected', `MES ${res.status}: ${res.error}; MANUFACTURING_APPROVED reverted by REJECTED`);
    return;
  }
  await run.checkpoint('manufacturing', `MES job ${res.status === 202 ? 'started' : 'already known'} (${res.body.status})`);
}

/** Runs the forward path from the current step until it waits or ends. */
export async function advance(run: SagaRun): Promise<void> {
  for (;;) {
    switch (run.state.step) {
      case 'received':
        if (!(await createInCrm(run))) return;
        break;
      case 'crm_created':
      case 'pricing_requested':
        if (!(await requestPrice(run))) return;
        break;
      case 'priced':
        await run.crmStatus('MANUFACTURING_APPROVED', 'approved');
        break;
      case 'approved':
        await manufacture(run);
        return;
      default:
        return;
    }
  }
}
