import type { RouteHandlerMethod } from 'fastify';
import type { GatewayServices } from '../services.ts';
import type { ContractedUpstream } from '../../platform/upstream/client.ts';

export interface HandlerContext {
  /** JSON calls only, each naming its upstream contract (contracts/upstream-answers.ts). */
  upstream: ContractedUpstream;
  services: GatewayServices;
}

/** Builds the handler of one operation for one upstream. */
export type HandlerFactory = (context: HandlerContext) => RouteHandlerMethod;

/** Builds the handler of an operation Facet answers itself. */
export type LocalHandlerFactory = (context: { services: GatewayServices }) => RouteHandlerMethod;
