// Credentials handed over in the URL fragment (`#token=…`, `#key=…`): the
// fragment never reaches a server. Read once, then removed from the address
// bar and the history so it is not shared by copying the URL.

export function takeFromFragment(name: string): string | undefined {
  const hash = window.location.hash.replace(/^#/, '');
  if (hash === '') return undefined;
  const params = new URLSearchParams(hash);
  const value = params.get(name) ?? undefined;
  if (value === undefined) return undefined;
  params.delete(name);
  const rest = params.toString();
  history.replaceState(null, '', `${window.location.pathname}${window.location.search}${rest ? `#${rest}` : ''}`);
  return value.trim() || undefined;
}

/** A credential kept for this tab only (sessionStorage: gone when the tab closes). */
export class TabSecret {
  private readonly storageKey: string;
  constructor(storageKey: string) {
    this.storageKey = storageKey;
  }
  get(): string | undefined {
    return sessionStorage.getItem(this.storageKey) ?? undefined;
  }
  set(value: string): void {
    sessionStorage.setItem(this.storageKey, value);
  }
  clear(): void {
    sessionStorage.removeItem(this.storageKey);
  }
}
