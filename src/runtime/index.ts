export * from './tensor.ts';
export * from './pool.ts';
export * from './registry.ts';
export * from './context.ts';
export * from './browser-device.ts';
export * from './limits.ts';
