// A stand-in for `uvu` inside the page (test/browser.test.ts bundles the kernel test files with
// `uvu` aliased to this file). It keeps uvu's API (suite, hooks, skip, only, run) and semantics
// (a suite runs only after test.run(); hooks get the suite's state) but, instead of printing,
// records every test so the page can report one result per test back to Node.

type Handler = (ctx: Record<string, unknown>) => unknown;
interface Registered { name: string; handler: Handler }

export interface BrowserTestResult {
  file: string;
  suite: string;
  name: string;
  ok: boolean;
  skipped?: boolean;
  error?: string;
  ms: number;
}

interface SuiteRecord {
  file: string;
  name: string;
  state: Record<string, unknown>;
  tests: Registered[];
  only: Registered[];
  skips: string[];
  before: Handler[];
  after: Handler[];
  beforeEach: Handler[];
  afterEach: Handler[];
}

let currentFile = '';
const queued: SuiteRecord[] = [];

/** Which file the suites created from now on belong to. */
export function setCurrentFile(file: string): void { currentFile = file; }

interface Hook {
  (fn: Handler): void;
  each(fn: Handler): void;
}
export interface Test {
  (name: string, handler: Handler): void;
  only(name: string, handler: Handler): void;
  skip(name?: string, handler?: Handler): void;
  before: Hook;
  after: Hook;
  run(): void;
}

function fresh(name: string, state: Record<string, unknown>): SuiteRecord {
  return { file: currentFile, name, state, tests: [], only: [], skips: [], before: [], after: [], beforeEach: [], afterEach: [] };
}

export function suite(name = '', state: Record<string, unknown> = {}): Test {
  let rec = fresh(name, state);
  const test = ((n: string, h: Handler) => { rec.tests.push({ name: n, handler: h }); }) as Test;
  test.only = (n, h) => { rec.only.push({ name: n, handler: h }); };
  test.skip = (n) => { rec.skips.push(n ?? ''); };
  const hook = (key: 'before' | 'after', eachKey: 'beforeEach' | 'afterEach'): Hook => {
    const f = ((fn: Handler) => { rec[key].push(fn); }) as Hook;
    f.each = (fn: Handler) => { rec[eachKey].push(fn); };
    return f;
  };
  test.before = hook('before', 'beforeEach');
  test.after = hook('after', 'afterEach');
  test.run = () => { queued.push(rec); rec = fresh(name, { ...state }); };
  return test;
}

export const test = suite();

function message(e: unknown): string {
  if (e instanceof Error) return `${e.name === 'Error' ? '' : `${e.name}: `}${e.message}`;
  return String(e);
}

/** Runs every queued suite in order; `onResult` sees each result as it comes. */
export async function runQueued(onResult?: (r: BrowserTestResult) => void): Promise<BrowserTestResult[]> {
  const results: BrowserTestResult[] = [];
  const push = (r: BrowserTestResult) => { results.push(r); onResult?.(r); };
  for (const s of queued.splice(0)) {
    const list = s.only.length ? s.only : s.tests;
    let beforeError: string | null = null;
    try { for (const h of s.before) await h(s.state); } catch (e) { beforeError = `before hook: ${message(e)}`; }
    for (const t of list) {
      const t0 = performance.now();
      if (beforeError) { push({ file: s.file, suite: s.name, name: t.name, ok: false, error: beforeError, ms: 0 }); continue; }
      try {
        for (const h of s.beforeEach) await h(s.state);
        await t.handler(s.state);
        for (const h of s.afterEach) await h(s.state);
        push({ file: s.file, suite: s.name, name: t.name, ok: true, ms: performance.now() - t0 });
      } catch (e) {
        push({ file: s.file, suite: s.name, name: t.name, ok: false, error: message(e), ms: performance.now() - t0 });
      }
    }
    for (const n of s.skips) push({ file: s.file, suite: s.name, name: n, ok: true, skipped: true, ms: 0 });
    try { for (const h of s.after) await h(s.state); } catch (e) {
      push({ file: s.file, suite: s.name, name: '(after hook)', ok: false, error: message(e), ms: 0 });
    }
  }
  return results;
}
