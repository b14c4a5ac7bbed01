// Shrinks WGSL for the published build: comments removed, indentation and runs of blanks
// collapsed, blanks next to punctuation dropped. Every newline is kept, so a compiler error's
// line number in the shipped WGSL is the line number in shaders/*.wgsl (column numbers differ).
// The token sequence is unchanged: a blank is dropped only where the characters on either side
// cannot join into one token (two identifier characters, or two operator characters such as
// `- -`, `/ /`, `> >`, keep theirs).

const IDENT_CHAR = /[A-Za-z0-9_]/;
const OPERATOR_CHAR = /[+\-*/%&|^<>=!]/;

/**
 * Returns `source` without `//` line comments and (nested) block comments; each comment's
 * newlines are kept. WGSL has no string literals, so `//` and `/*` always open a comment.
 * @param {string} source
 * @returns {string}
 */
export function stripWgslComments(source) {
  let out = '';
  let i = 0;
  while (i < source.length) {
    const two = source.slice(i, i + 2);
    if (two === '//') {
      while (i < source.length && source[i] !== '\n') i++;
    } else if (two === '/*') {
      let depth = 0;
      do {
        const pair = source.slice(i, i + 2);
        if (pair === '/*') { depth++; i += 2; }
        else if (pair === '*/') { depth--; i += 2; }
        else {
          if (source[i] === '\n') out += '\n';
          i++;
        }
      } while (depth > 0 && i < source.length);
      if (depth > 0) throw new Error('WGSL minifier: a block comment is never closed (expected `*/`)');
      out += ' '; // a comment separates tokens like a blank does
    } else {
      out += source[i++];
    }
  }
  return out;
}

/** @param {string} line */
function squeezeLine(line) {
  const words = line.trim().split(/[ \t\r\f\v]+/);
  let out = words[0] ?? '';
  for (let k = 1; k < words.length; k++) {
    const left = out[out.length - 1];
    const right = words[k][0];
    const keepBlank = (IDENT_CHAR.test(left) && IDENT_CHAR.test(right)) ||
      (OPERATOR_CHAR.test(left) && OPERATOR_CHAR.test(right));
    out += (keepBlank ? ' ' : '') + words[k];
  }
  return out;
}

/**
 * The shipped form of a WGSL source: same tokens, same number of lines.
 * @param {string} source
 * @returns {string}
 */
export function minifyWgsl(source) {
  return stripWgslComments(source.replace(/\r\n/g, '\n')).split('\n').map(squeezeLine).join('\n');
}
