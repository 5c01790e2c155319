// Outcomes a saga step reports by throwing. Anything else thrown (an
// upstream FacetError, a bus or state-store error) is transient: the bus
// retries the message after a delay.

/** The step cannot succeed however often it is tried: park the message with this reason. */
export class SagaDeadError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'SagaDeadError';
  }
}

/** This process no longer holds the order's lock (its lease expired): stop before writing. */
export class LeaseLostError extends Error {
  constructor(orderId: string) {
    super(`lost the saga lock of order ${orderId}`);
    this.name = 'LeaseLostError';
  }
}
