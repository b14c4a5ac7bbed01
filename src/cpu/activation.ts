// CPU reference for shaders/activation.wgsl (float64).
import { sigmoid } from './math.ts';

export type CpuActivation = 'relu' | 'tanh' | 'sigmoid';

export function activationForward(a: CpuActivation, x: ArrayLike<number>): Float64Array {
  const f = a === 'relu' ? (v: number) => (v > 0 ? v : 0) : a === 'tanh' ? Math.tanh : sigmoid;
  return Float64Array.from(x as ArrayLike<number>, f);
}

/** dx = dy · f'(x), from the forward output y. */
export function activationBackward(a: CpuActivation, y: ArrayLike<number>, dy: ArrayLike<number>): Float64Array {
  const out = new Float64Array(y.length);
  for (let i = 0; i < y.length; i++) {
    const d = a === 'relu' ? (y[i] > 0 ? 1 : 0) : a === 'tanh' ? 1 - y[i] * y[i] : y[i] * (1 - y[i]);
    out[i] = dy[i] * d;
  }
  return out;
}
