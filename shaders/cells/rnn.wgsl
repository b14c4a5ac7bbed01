// cells/rnn.wgsl — the vanilla RNN cell (PyTorch nn.RNN): forward and backward of one unit j of one
// row, for every schedule (recurrent/step.wgsl, sequence.wgsl, generate.wgsl). Buffers: rnn_storage.wgsl.
//
// One gate per unit (G = H); the state is h; act = tanh or relu (codes 0, 1 of common.wgsl's cell_act).
//   h = act(pre),  pre = gx + W_hh·h_prev + b_hh
// Nothing is saved for backward: act'(pre) is recovered from h (tanh: 1 − h², relu: [h > 0]).
//   dpre = dh·act'(pre)  (the gradient w.r.t. both sides of pre)

fn rnn_forward(pre: f32, act: u32) -> f32 { return cell_act(act, pre); }

fn rnn_backward(dh: f32, h: f32, act: u32) -> f32 { return dh * cell_act_grad(act, h); }
