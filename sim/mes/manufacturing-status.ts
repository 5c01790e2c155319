// The statuses a manufacturing job passes through in the MES, as its events
// and its work API name them (the MES adapter's translation maps them onto
// the order statuses).

export const MANUFACTURING_STATUSES = [
  'MANUFACTURING_STARTED',
  'MANUFACTURING_COMPLETED',
  'PACKAGING',
  'SHIPPED',
  'CANCELLED',
] as const;
export type ManufacturingStatus = (typeof MANUFACTURING_STATUSES)[number];
