// /_sim/faults: on the admin port always, and on the API port while it is up.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { FaultController } from './fault-controller.ts';
import { parseFaultPatch } from './faults.ts';
import type { Faults } from './faults.ts';
import { badRequest } from './errors.ts';

export function registerFaultRoutes(app: FastifyInstance, faults: FaultController, onApiPort: boolean): void {
  // A request on the API port that takes the API down must still get its
  // answer: its own socket is spared and destroyed once the reply is written.
  const apply = async (
    request: FastifyRequest,
    reply: FastifyReply,
    change: (spare: FastifyRequest['raw']['socket'] | undefined) => Promise<Faults>,
  ): Promise<Faults> => {
    const spare = onApiPort ? request.raw.socket : undefined;
    const next = await change(spare);
    if (spare && next.down) {
      void reply.header('connection', 'close');
      reply.raw.once('finish', () => spare.destroy());
    }
    return next;
  };

  app.get('/_sim/faults', async () => faults.get());

  app.put('/_sim/faults', async (request, reply) => {
    const parsed = parseFaultPatch(request.body);
    if (!parsed.ok) throw badRequest(parsed.error, parsed.field);
    return apply(request, reply, (spare) => faults.set(parsed.patch, spare));
  });

  app.delete('/_sim/faults', async (request, reply) => apply(request, reply, (spare) => faults.reset(spare)));
}
