/**
 * `hcs-reconciler logs web | head -1`: when the reader of our stdout goes away, stop quietly
 * (exit `code`) instead of dying of an unhandled EPIPE with a stack trace.
 */
export function exitQuietlyOnEpipe(code: number): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(code);
    throw err;
  });
}
