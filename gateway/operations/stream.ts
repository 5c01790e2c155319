// GET /internal/v1/orders/stream: the operators' live feed as Server-Sent
// Events. The query (status filter) is validated by the route schema; the
// Last-Event-ID header here, before the response is taken over. From then on
// the raw response belongs to the feed (gateway/notify/order-feed.ts).

import { FacetError } from '../../platform/errors/facet-error.ts';
import { FEED_ID } from '../notify/feed-log.ts';
import type { StreamRefusal } from '../notify/order-feed.ts';
import { kOperator } from '../../platform/pipeline/request-state.ts';
import { endServerSpanOnClose } from '../../platform/telemetry/api.ts';
import type { LocalHandlerFactory } from './types.ts';

/** Both carry Retry-After: a closed tab frees its slot, and a full replica's load balancer may pick another. */
const REFUSALS: Record<StreamRefusal, FacetError> = {
  owner_limit: new FacetError('FACET_ERR_STREAM_LIMIT', {
    detail: 'This operator already holds as many open streams on this replica as it may; close one first',
    headers: { 'retry-after': '5' },
  }),
  replica_full: new FacetError('FACET_ERR_STREAMS_FULL', { detail: 'This gateway replica serves as many streams as it can; retry', headers: { 'retry-after': '2' } }),
};

export const streamOrders: LocalHandlerFactory = ({ services }) =>
  async function streamOrdersHandler(request, reply): Promise<void> {
    const { status } = request.query as { status?: string[] };
    const header = request.headers['last-event-id'];
    const lastEventId = typeof header === 'string' && header !== '' ? header : undefined;
    if (lastEventId !== undefined && !FEED_ID.test(lastEventId)) {
      throw new FacetError('FACET_ERR_VALIDATION', {
        detail: 'header.last-event-id must be an event id of this stream',
        errors: [{ field: 'header.last-event-id', message: 'must be an event id of this stream, like 1767225600000-0' }],
      });
    }
    // Checked and opened with no await between: the answer cannot go stale.
    const operator = request[kOperator];
    const owner = operator?.subject ?? 'internal';
    const refusal = services.feed.refusal(owner);
    if (refusal !== undefined) throw REFUSALS[refusal];
    reply.hijack();
    endServerSpanOnClose(reply.raw);
    reply.raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
      'x-content-type-options': 'nosniff',
      'x-request-id': request.id,
    });
    // HEAD: the stream's headers and nothing more (Node would hold them until a first event, which a HEAD never gets).
    if (request.method === 'HEAD') {
      reply.raw.end();
      return;
    }
    await services.feed.open(reply.raw, { statuses: new Set(status ?? []), lastEventId, owner, expiresAt: operator?.expiresAt });
  };
