// The documentation stands alone in a clone: every relative link and image in the repository's
// Markdown (README.md, docs/, bench/, data/, examples/) names a file or folder of the repository,
// and no file points at a development machine's paths or at folders beside the checkout.
import { suite } from 'uvu';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const test = suite('docs');
const root = fileURLToPath(new URL('..', import.meta.url));

/** The repository's files as git sees them: tracked, plus new files that .gitignore does not ignore. */
function repoFiles(): string[] {
  let out: string;
  try {
    out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new Error(`the docs test lists the repository's files with git ls-files, which failed (${(e as Error).message.split('\n')[0]}); expected a git checkout`);
  }
  return out.split('\0').filter((f) => f && existsSync(join(root, f)));
}

interface Link { line: number; target: string }

/** Link targets of a Markdown text with their line numbers; code blocks and code spans are skipped. */
function markdownLinks(text: string): Link[] {
  const links: Link[] = [];
  let fenced = false;
  text.split('\n').forEach((raw, i) => {
    if (/^\s*(```|~~~)/.test(raw)) { fenced = !fenced; return; }
    if (fenced) return;
    const line = raw.replace(/`[^`]*`/g, '``');
    // `](target)` also catches links whose [text] was wrapped onto an earlier line.
    for (const m of line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) links.push({ line: i + 1, target: m[1] });
    for (const m of line.matchAll(/^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/g)) links.push({ line: i + 1, target: m[1] });
    for (const m of line.matchAll(/<(?:img|a|source)\b[^>]*?\b(?:src|href)\s*=\s*["']([^"']+)["']/gi)) links.push({ line: i + 1, target: m[1] });
  });
  return links;
}

/** Why a link target does not resolve inside the repository, or null when it does. */
function brokenLink(file: string, target: string): string | null {
  if (/^(https?:|mailto:)/i.test(target)) return null;
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return `uses the scheme of ${JSON.stringify(target)}; expected a relative path or an http(s) address`;
  const path = decodeURI(target.replace(/[#?].*$/, ''));
  if (path === '') return null; // an anchor in the same page
  if (isAbsolute(path)) return `is the absolute path ${path}; expected a path relative to ${file}`;
  const abs = resolve(root, dirname(file), path);
  const rel = relative(root, abs);
  if (rel.startsWith('..') || isAbsolute(rel)) return `points outside the repository (${path}); expected a file in the repository`;
  if (!existsSync(abs)) return `points at ${rel}, which does not exist in the repository`;
  return null;
}

const markdownFiles = () => repoFiles().filter((f) => f.endsWith('.md') && !f.startsWith('node_modules/'));

test('the documentation checked here includes the README, docs/ and bench/', () => {
  const files = markdownFiles();
  for (const want of ['README.md', 'docs/ARCHITECTURE.md', 'bench/RESULTS.md']) {
    if (!files.includes(want)) throw new Error(`${want} is not among the Markdown files found (${files.join(', ')}); expected it to be checked`);
  }
});

test('the link finder sees links, images, wrapped link text and references, and skips code', () => {
  const md = 'See [a](docs/A.md#x) and ![b](img.png "t").\nA [wrapped\nlink](c.md), `[not](code.md)`\n```\n[not](fenced.md)\n```\n[ref]: d.md\n<img src="e.png">\n';
  const got = markdownLinks(md).map((l) => `${l.line}:${l.target}`).join(' ');
  const want = '1:docs/A.md#x 1:img.png 3:c.md 7:d.md 8:e.png';
  if (got !== want) throw new Error(`found ${got}, expected ${want}`);
});

test('every relative link and image in the Markdown resolves to a file in the repository', () => {
  const broken: string[] = [];
  for (const file of markdownFiles()) {
    for (const { line, target } of markdownLinks(readFileSync(join(root, file), 'utf8'))) {
      const why = brokenLink(file, target);
      if (why) broken.push(`${file}:${line}: link ${JSON.stringify(target)} ${why}`);
    }
  }
  if (broken.length) throw new Error(`${broken.length} broken links:\n${broken.join('\n')}`);
});

// Assembled from parts so that this file does not match itself.
const FORBIDDEN: [RegExp, string][] = [
  [new RegExp(['\\.\\.', 'shared'].join('/')), 'a folder beside the checkout, which a clone does not have'],
  [new RegExp(['', 'work', ''].join('/')), 'an absolute path of a development machine'],
];

test('no file points at folders beside the checkout or at a development machine\'s paths', () => {
  const hits: string[] = [];
  for (const file of repoFiles()) {
    if (file.startsWith('data/') || statSync(join(root, file)).size > 1 << 20) continue; // data sets
    const bytes = readFileSync(join(root, file));
    if (bytes.includes(0)) continue; // binary: images, checkpoints
    bytes.toString('utf8').split('\n').forEach((text, i) => {
      for (const [pattern, what] of FORBIDDEN) {
        const m = pattern.exec(text);
        if (m) hits.push(`${file}:${i + 1}: mentions ${JSON.stringify(m[0])} (${what}); expected a path inside the repository, or a document cited by title and author`);
      }
    });
  }
  if (hits.length) throw new Error(`${hits.length} mentions:\n${hits.join('\n')}`);
});

test.run();
