// Types for scripts/no-node-plugin.mjs, so that TypeScript tests can use the plugin.
import type { Plugin } from 'esbuild';
/** Records each Node built-in or `webgpu` import in `offenders` and leaves it external. */
export function noNodePlugin(offenders: string[], describe?: (importer: string) => string): Plugin;
