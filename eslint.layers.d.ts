// Types of eslint.layers.js (plain JavaScript: ESLint loads it before any TypeScript).

/** Every top folder, and the ones each may import besides itself. */
export declare const LAYERS: Readonly<Record<string, readonly string[]>>;
/** The production gateway's entry files: never the simulators. */
export declare const PRODUCTION_ENTRIES: readonly string[];
/** Zones for import-x/no-restricted-paths. */
export declare const LAYER_ZONES: readonly { target: string | string[]; from: string[]; message: string }[];
