// An esbuild plugin for browser bundles: every import of a Node built-in (`fs`, `node:fs`, …) or of
// `webgpu` (Dawn) is recorded in `offenders` as "path (imported by importer)" and left external, so
// the build can fail with the whole list. Used by scripts/build.mjs and test/package.test.ts.
import { builtinModules } from 'node:module';

const nodeOnly = new Set([...builtinModules, 'webgpu']);

/** The plugin; `describe` turns an importer's path into what the message shows. */
export function noNodePlugin(offenders, describe = (importer) => importer) {
  return {
    name: 'no-node',
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        const bare = args.path.replace(/^node:/, '').split('/')[0];
        if (args.path.startsWith('node:') || nodeOnly.has(args.path) || nodeOnly.has(bare)) {
          offenders.push(`${args.path} (imported by ${describe(args.importer)})`);
          return { path: args.path, external: true };
        }
        return undefined;
      });
    },
  };
}
