// One stdio pipe HANDLE, on its own worker thread (src/hcs/stdio.ts). Node cannot wrap a raw
// Windows pipe HANDLE in a stream (nodejs/node#57288), so the blocking kernel32 calls run here,
// synchronously, where blocking is harmless: ReadFile in a loop ('read'), WriteFile per message
// ('write'). This thread owns the handle: it calls CloseHandle exactly once, when the stream ends
// (read: end of stream or error; write: the main thread's close message, or a failed write).
// Plain JavaScript so it runs without the TypeScript loader.
import { parentPort, workerData } from 'node:worker_threads';
import koffi from 'koffi';

const { libraryPath, handle, mode, chunkBytes, credits } = workerData;
const lib = koffi.load(libraryPath);
// fileapi.h / handleapi.h / errhandlingapi.h prototypes; BOOL = int32, DWORD = uint32.
const ReadFile = lib.func('int32_t __stdcall ReadFile(void *hFile, void *lpBuffer, uint32_t nNumberOfBytesToRead, _Out_ uint32_t *lpNumberOfBytesRead, void *lpOverlapped)');
const WriteFile = lib.func('int32_t __stdcall WriteFile(void *hFile, void *lpBuffer, uint32_t nNumberOfBytesToWrite, _Out_ uint32_t *lpNumberOfBytesWritten, void *lpOverlapped)');
const CloseHandle = lib.func('int32_t __stdcall CloseHandle(void *hObject)');
const GetLastError = lib.func('uint32_t __stdcall GetLastError(void)');

// Windows: anything between the failing call and GetLastError may overwrite it; the value is
// only reported, never used to decide (any failure ends the stream).
function lastError() {
  try {
    return GetLastError();
  } catch {
    return 0;
  }
}

let closed = false;
function closeOnce() {
  if (closed) return;
  closed = true;
  CloseHandle(handle);
}

/** ReadFile until it fails (end of stream) or throws; returns the Win32 error seen. */
function readLoop(flow, buf) {
  for (;;) {
    // Back-pressure: at most `credits` chunks unread on the main thread; then stop reading, so a
    // full pipe blocks the writer in the container, as it would with any pipe reader.
    while (Atomics.load(flow, 0) <= 0) Atomics.wait(flow, 0, Atomics.load(flow, 0), 1000);
    const read = [0];
    if (!ReadFile(handle, buf, buf.length, read, null)) return lastError();
    if (read[0] === 0) continue; // a zero-byte write on the other end
    const chunk = new Uint8Array(read[0]);
    chunk.set(buf.subarray(0, read[0]));
    Atomics.sub(flow, 0, 1);
    parentPort.postMessage({ chunk }, [chunk.buffer]);
  }
}

if (mode === 'read') {
  let error = -1;
  try {
    error = readLoop(new Int32Array(credits), Buffer.alloc(chunkBytes));
  } finally {
    closeOnce(); // also when a call threw: the handle is this thread's to close
  }
  parentPort.postMessage({ end: true, error });
  parentPort.close();
} else {
  parentPort.on('message', (msg) => {
    if (closed) return;
    if (msg.close) {
      closeOnce();
      parentPort.postMessage({ closed: true });
      parentPort.close();
      return;
    }
    const data = Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength);
    let off = 0;
    while (off < data.length) {
      const written = [0];
      let ok = 0;
      try {
        ok = WriteFile(handle, off === 0 ? data : data.subarray(off), data.length - off, written, null);
      } catch {
        ok = 0; // a koffi failure counts as a failed write: the handle is closed below, once
      }
      if (!ok) {
        const error = lastError();
        closeOnce();
        parentPort.postMessage({ id: msg.id, error: error || -1 });
        parentPort.close();
        return;
      }
      off += written[0];
    }
    parentPort.postMessage({ id: msg.id });
  });
}
