/** The log relay bundled into one plain-JavaScript module (relay-bundle.mjs), and the files it was made from. */
export function bundleRelay(): Promise<{ code: Uint8Array; inputs: string[] }>;
