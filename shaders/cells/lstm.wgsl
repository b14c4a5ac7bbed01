// cells/lstm.wgsl — the LSTM cell (PyTorch nn.LSTM): forward and backward of one unit j of one row
// from its pre-activations, for every schedule (step, sequence, generate). Buffers: lstm_storage.wgsl.
//
// Gate order i, f, g, o (G = 4H); the state is (h, c). σ, act: the gate and cell activations (codes
// of common.wgsl's cell_act; PyTorch: sigmoid, tanh); p = (p_i, p_f, p_o): peepholes (TF1, ONNX P) or 0.
//   pre_q = gx_q + (W_hh·h_prev + b_hh)_q          q = i, f, g, o
//   i = σ(pre_i + p_i·c_prev)   f = σ(pre_f + p_f·c_prev)   g = act(pre_g)
//   c = f·c_prev + i·g          o = σ(pre_o + p_o·c)        h = o·act(c)
// Saved for backward: the post-activation gates (i, f, g, o) and c.
// Backward, given dh (the gradient w.r.t. h) and dc_next (w.r.t. c from the next step or from cn),
// with the slopes σ', act' written from the outputs:
//   d_o = dh·act(c)·σ'(o)      dc = dc_next + dh·o·act'(act(c)) + d_o·p_o
//   dpre = [d_i, d_f, d_g, d_o] = [dc·g·σ'(i),  dc·c_prev·σ'(f),  dc·i·act'(g),  d_o]
//   dc_prev = dc·f + d_i·p_i + d_f·p_f
// dpre is the gradient w.r.t. both the input side (gx) and the hidden side (W_hh·h_prev + b_hh).
// The peepholes' own gradient, Σ_(b,t) [d_i·c_prev, d_f·c_prev, d_o·c], is summed by the caller.

struct LstmStep { h: f32, c: f32, gates: vec4<f32> }   // gates: i, f, g, o

fn lstm_forward(pre: vec4<f32>, c_prev: f32, act: u32, gate: u32, p: vec3<f32>) -> LstmStep {
  let i = cell_act(gate, pre.x + p.x * c_prev);
  let f = cell_act(gate, pre.y + p.y * c_prev);
  let g = cell_act(act, pre.z);
  let c = f * c_prev + i * g;
  let o = cell_act(gate, pre.w + p.z * c);
  return LstmStep(o * cell_act(act, c), c, vec4<f32>(i, f, g, o));
}

struct LstmGrad { dpre: vec4<f32>, dc_prev: f32 }

fn lstm_backward(dh: f32, dc_next: f32, gates: vec4<f32>, c: f32, c_prev: f32, act: u32, gate: u32, p: vec3<f32>) -> LstmGrad {
  let i = gates.x;  let f = gates.y;  let g = gates.z;  let o = gates.w;
  let ac = cell_act(act, c);
  let d_o = dh * ac * cell_act_grad(gate, o);
  let dc = dc_next + dh * o * cell_act_grad(act, ac) + d_o * p.z;
  let d_i = dc * g * cell_act_grad(gate, i);
  let d_f = dc * c_prev * cell_act_grad(gate, f);
  return LstmGrad(vec4<f32>(d_i, d_f, dc * i * cell_act_grad(act, g), d_o), dc * f + d_i * p.x + d_f * p.y);
}
