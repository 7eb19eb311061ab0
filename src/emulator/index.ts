/**
 * The HCS emulator's TypeScript side: launcher, control client, wire protocol and HRESULTs.
 * The service itself runs in its own process (src/emulator/service/main.ts).
 */
export { defaultSocketPath, ensureEmulator, findEmulator, probeSocket, serviceMainPath, startEmulator } from './launcher.ts';
export type { EmulatorProcess, StartOptions } from './launcher.ts';
export { EmulatorControl } from './control.ts';
export type {
  EmulatorCall, EmulatorProcessInfo, EmulatorStatus, EmulatorSystemInfo, FaultSpec, ForeignSystemSpec,
} from './control.ts';
export { formatHResult, HR, KNOWN_HRESULTS, parseHResult } from './hresult.ts';
export * as protocol from './protocol.ts';
