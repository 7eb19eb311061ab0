/** The log relay bundled into one plain-JavaScript module (relay-bundle.mjs). */
export function bundleRelay(): Promise<Uint8Array>;
