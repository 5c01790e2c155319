// Public entry of the adapters (the bus and the contracts have their own).
export { startAdapters, type Adapters, type AdaptersOptions } from './start.ts';
export { SAGA_COMMANDS_QUEUE, SAGA_EVENTS_QUEUE, SAGA_MAX_ATTEMPTS, SAGA_RETRY_DELAYS_MS } from './saga/consumer.ts';
export { MES_EVENTS_QUEUE } from './mes/consumer.ts';
export { MES_MANUFACTURING_CHANGED, type MesManufacturingChangedEvent } from './mes/messages.ts';
export { SagaStore, DEFAULT_KEY_PREFIX } from './saga/store.ts';
export type { SagaState, SagaStep, SagaHistoryEntry } from './saga/state.ts';
export { statusEventId } from './saga/status-events.ts';
