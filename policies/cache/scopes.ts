// Cache scopes: whose entries a key belongs to. Each scope has its own
// generation (bumped to drop all its pages at once): one per seller, and the
// operators' shared dashboard.

export const DASHBOARD_SCOPE = 'dashboard';

export function sellerScope(sellerId: string): string {
  return `seller:${sellerId}`;
}
