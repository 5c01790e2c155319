// Globals of the k6 runtime that @types/k6 does not declare. Only what k6
// really provides: no DOM, no Node (process, Buffer, TextEncoder, fetch,
// URLSearchParams do not exist in k6).

declare global {
  interface Console {
    log(...data: unknown[]): void;
    info(...data: unknown[]): void;
    warn(...data: unknown[]): void;
    error(...data: unknown[]): void;
    debug(...data: unknown[]): void;
  }
  var console: Console;
}

export {};
