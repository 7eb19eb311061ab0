/** The default HCS Owner (its own module: the CLI reads it at start-up without loading yaml or ajv). */
export const DEFAULT_OWNER = 'hcs-reconciler';
