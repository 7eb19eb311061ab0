/**
 * `hcs-reconciler logs web | head -1`, `emulator status | head -1`: when the reader of our output
 * goes away, stop quietly instead of dying of an unhandled EPIPE with a stack trace.
 *
 * A write to a pipe whose reader has closed fails with EPIPE, and Node reports it as an 'error'
 * event on process.stdout (never as a thrown exception at the write): a stream without an 'error'
 * listener turns it into an uncaught exception. So the listener must be on the stream before the
 * first write of any command, which is why `main()` installs it once for every command, not each
 * command for itself (only `logs` and `exec` did, and `emulator status` died).
 */
const installed = new WeakSet<NodeJS.WriteStream>();

/**
 * Exit on EPIPE from stdout or stderr: with `process.exitCode` if a command already set one, else
 * `code`. Other stream errors are rethrown as before. Idempotent per stream.
 */
export function exitQuietlyOnEpipe(code = 0): void {
  for (const stream of [process.stdout, process.stderr]) {
    if (installed.has(stream)) continue;
    installed.add(stream);
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : code);
      throw err;
    });
  }
}
