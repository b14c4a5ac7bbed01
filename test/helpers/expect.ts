// expectClose: the one comparison helper for GPU-vs-CPU and CPU-vs-finite-difference checks.
// Passes if |got - want| <= atol + rtol * |want| everywhere. A NaN in `got` fails unless `want` is
// NaN there too. On failure the error names the count, the max abs/rel error and the first five
// mismatches with their multi-index, e.g. `dWhh[3,17] cpu=0.1234 gpu=0.1301`.

export interface Tolerance {
  atol: number;
  rtol: number;
  /** Shape used to print multi-indices of mismatches. */
  shape?: readonly number[];
}

type NumArray = ArrayLike<number>;

function multiIndex(i: number, shape?: readonly number[]): string {
  if (!shape || shape.length === 0) return String(i);
  const idx: number[] = [];
  let r = i;
  for (let d = shape.length - 1; d >= 0; d--) { idx.unshift(r % shape[d]); r = Math.floor(r / shape[d]); }
  return idx.join(',');
}

export function closeReport(name: string, got: NumArray, want: NumArray, tol: Tolerance): string | null {
  if (got.length !== want.length) return `${name}: length ${got.length}, expected ${want.length}`;
  let bad = 0, maxAbs = 0, maxRel = 0;
  const first: string[] = [];
  for (let i = 0; i < want.length; i++) {
    const g = got[i], w = want[i];
    let ok: boolean;
    if (Number.isNaN(w)) ok = Number.isNaN(g);
    else if (!Number.isFinite(w)) ok = g === w;
    else {
      const abs = Math.abs(g - w);
      ok = Number.isFinite(g) && abs <= tol.atol + tol.rtol * Math.abs(w);
      if (Number.isFinite(abs)) {
        maxAbs = Math.max(maxAbs, abs);
        if (w !== 0) maxRel = Math.max(maxRel, abs / Math.abs(w));
      }
    }
    if (!ok) {
      bad++;
      if (first.length < 5) first.push(`  ${name}[${multiIndex(i, tol.shape)}] cpu=${w} gpu=${g}`);
    }
  }
  if (bad === 0) return null;
  return `${name}: ${bad} of ${want.length} values differ (atol=${tol.atol}, rtol=${tol.rtol}); ` +
    `max abs err ${maxAbs.toExponential(3)}, max rel err ${maxRel.toExponential(3)}\n${first.join('\n')}`;
}

export function expectClose(name: string, got: NumArray, want: NumArray, tol: Tolerance): void {
  const report = closeReport(name, got, want, tol);
  if (report) throw new Error(report);
}

/** Asserts that `fn` throws an Error whose message matches every pattern. */
export function expectThrows(fn: () => unknown, ...patterns: (string | RegExp)[]): void {
  let err: unknown;
  try { fn(); } catch (e) { err = e; }
  if (!(err instanceof Error)) throw new Error(`expected an error matching ${patterns.join(', ')}, but nothing was thrown`);
  for (const p of patterns) {
    const ok = typeof p === 'string' ? err.message.includes(p) : p.test(err.message);
    if (!ok) throw new Error(`error message does not match ${p}: "${err.message}"`);
  }
}

export async function expectRejects(fn: () => Promise<unknown>, ...patterns: (string | RegExp)[]): Promise<void> {
  let err: unknown;
  try { await fn(); } catch (e) { err = e; }
  if (!(err instanceof Error)) throw new Error(`expected a rejection matching ${patterns.join(', ')}, but it resolved`);
  for (const p of patterns) {
    const ok = typeof p === 'string' ? err.message.includes(p) : p.test(err.message);
    if (!ok) throw new Error(`error message does not match ${p}: "${err.message}"`);
  }
}
