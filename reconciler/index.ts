/** Public surface of the reconciler core. */
export * from './ports.ts';
export * from './identity.ts';
export * from './backoff.ts';
export * from './observed.ts';
export * from './desired.ts';
export * from './graph.ts';
export * from './reasons.ts';
export * from './runtime.ts';
export { plan, pausablePart, topologicalOrder, type Plan, type PlanInput } from './plan.ts';
export * from './history.ts';
export * from './limiter.ts';
export * from './timeouts.ts';
export * from './status.ts';
export { createController, type Controller, type ControllerOptions } from './controller.ts';
export { findEntrypoint } from './executor.ts';
