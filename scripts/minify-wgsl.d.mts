// Types for scripts/minify-wgsl.mjs, so that TypeScript tests can import the minifier.
/** Returns `source` without comments; each comment's newlines are kept. */
export function stripWgslComments(source: string): string;
/** The shipped form of a WGSL source: same tokens, same number of lines. */
export function minifyWgsl(source: string): string;
