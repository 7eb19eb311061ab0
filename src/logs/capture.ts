/**
 * Capture: the stdout and stderr streams of one process into its rotating files, one record per
 * line; lines longer than MAX_LINE_BYTES are split, and each stream's partial last line is
 * written when the stream ends (the process exited). Resolves once both streams ended and the
 * file is closed.
 */
import type { Readable } from 'node:stream';
import { LineSplitter, type LogStream } from './format.ts';
import type { RotatingLogWriter } from './writer.ts';

/** The streams of one process; either may be absent. */
export interface ProcessOutput {
  stdout?: Readable;
  stderr?: Readable;
}

/** Copies both streams into `writer` until they end; closes the writer. Counts records. */
export async function captureOutput(output: ProcessOutput, writer: RotatingLogWriter): Promise<{ records: number }> {
  let records = 0;
  const pump = (stream: Readable | undefined, name: LogStream): Promise<void> => {
    if (!stream) return Promise.resolve();
    const lines = new LineSplitter();
    return new Promise<void>((resolve) => {
      stream.on('data', (chunk: Buffer) => {
        for (const line of lines.push(chunk)) {
          writer.write(name, line);
          records++;
        }
      });
      const done = (): void => {
        const rest = lines.flush();
        if (rest !== undefined) {
          writer.write(name, rest);
          records++;
        }
        resolve();
      };
      stream.once('end', done);
      stream.once('error', done); // a failed pipe ends its stream; what arrived is kept
    });
  };
  let ended = false;
  try {
    await Promise.all([pump(output.stdout, 'stdout'), pump(output.stderr, 'stderr')]);
    ended = true;
  } finally {
    writer.close(ended);
  }
  return { records };
}
