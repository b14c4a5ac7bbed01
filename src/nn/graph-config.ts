// Rebuilding a graph Model from the JSON its config() writes (stored in checkpoints): the inputs,
// each node's layer (or op) from its own config, the wiring by value ids (`input:<name>`,
// `<node name>:<output index>`) and the outputs. Parameters are initialised fresh (seeded).
import { layerFromConfig, type LayerConfig } from './config.ts';
import { Recurrent } from './recurrent.ts';
import { Attention } from './attention.ts';
import { AttentionDecoder } from './attention_decoder.ts';
import { Add, Concatenate } from './merge.ts';
import { GraphValue, Input, type StateValues } from './graph-value.ts';
import { Model } from './graph.ts';
import { describeValue } from './options.ts';

/** What Model.config() writes. */
export interface GraphConfig {
  seed?: number;
  inputs: Record<string, { kind: 'tokens' | 'seq'; size: number; name?: string }>;
  nodes: { layer: LayerConfig; op?: boolean; inputs: string[]; initialState?: boolean }[];
  outputs: Record<string, string>;
}

/** A GraphOp node rebuilt from its config() and called on its inputs; returns its outputs in order. */
function callOpFromConfig(c: LayerConfig, ins: GraphValue[]): GraphValue[] {
  switch (c.type) {
    case 'Attention': {
      const r = Attention.fromConfig(c).call(ins[0], ins[1]);
      return [r.output, r.weights];
    }
    case 'AttentionDecoder': {
      // Inputs [x, memory, h0, c0 (LSTM cell only), h̃0?]; outputs [h̃, weights, h_n, c_n (LSTM), h̃_n].
      const dec = AttentionDecoder.fromConfig(c), S = dec.cell === 'lstm' ? 2 : 1;
      const init = ins.length >= 2 + S ? { h: ins[2], ...(S === 2 ? { c: ins[3] } : {}), ...(ins[2 + S] ? { attentional: ins[2 + S] } : {}) } : undefined;
      const r = dec.call(ins[0], ins[1], init);
      return [r.output, r.weights, r.state.h, ...(r.state.c ? [r.state.c] : []), r.state.attentional];
    }
    case 'Concatenate': return [new Concatenate({ name: c.name }).call(ins)];
    case 'Add': return [new Add({ name: c.name }).call(ins)];
    default: throw new Error(`graph config: unknown node type ${JSON.stringify(c.type)}`);
  }
}

/** A Model (not built) from its config() JSON. */
export function graphFromConfig(config: GraphConfig): Model {
  if (typeof config !== 'object' || config === null || typeof config.inputs !== 'object' || !Array.isArray(config.nodes) || typeof config.outputs !== 'object') {
    throw new Error(`graph config must be { inputs, nodes, outputs }, got ${describeValue(config)}`);
  }
  const values = new Map<string, GraphValue>();
  const inputs: Record<string, Input> = {};
  for (const [k, d] of Object.entries(config.inputs)) {
    const inp = d.kind === 'tokens' ? Input.tokens(d.name ?? k, d.size) : Input.sequence(d.name ?? k, d.size);
    inputs[k] = inp;
    values.set(`input:${k}`, inp);
  }
  const get = (id: string): GraphValue => {
    const v = values.get(id);
    if (!v) throw new Error(`graph config: value ${JSON.stringify(id)} is used before it is made`);
    return v;
  };
  for (const n of config.nodes) {
    const ins = n.inputs.map(get);
    let outs: GraphValue[];
    if (n.op) {
      outs = callOpFromConfig(n.layer, ins);
    } else {
      const layer = layerFromConfig(n.layer);
      if (layer instanceof Recurrent) {
        const init: StateValues | undefined = n.initialState ? { h: ins[1], ...(ins[2] ? { c: ins[2] } : {}) } : undefined;
        const r = layer.call(ins[0], init ? { initialState: init } : undefined);
        outs = [r, r.state.h, ...(r.state.c ? [r.state.c] : [])];
      } else {
        outs = [layer.call(ins[0])];
      }
    }
    outs.forEach((v, i) => values.set(`${n.layer.name}:${i}`, v));
  }
  const outputs: Record<string, GraphValue> = {};
  for (const [k, id] of Object.entries(config.outputs)) outputs[k] = get(id);
  return new Model({ inputs, outputs, seed: config.seed ?? 1 });
}
