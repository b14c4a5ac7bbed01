// Where Keras 3 keeps each layer's variables in a .keras file's model.weights.h5, worked out from
// the model's config.json the way keras/src/saving/saving_lib.py lays them out:
// - `_save_state` gives every layer object a group `<path>/vars` (attribute `name`: the layer's
//   name) holding its own variables as datasets "0", "1", … in the order of `layer.weights`, then
//   recurses into its KerasSaveable attributes under their attribute names: an RNN layer's `cell`
//   (`…/cell/vars/0..2`: kernel, recurrent_kernel, bias), Bidirectional's `forward_layer` and
//   `backward_layer`, TimeDistributed's `layer`. The model itself has `/vars` at the root.
// - A model's layer list is saved by `_save_container_state` under `layers/`, each layer named by
//   its class in snake case (`naming.to_snake_case`), with `_1`, `_2`, … for repeats of a class,
//   never by the layer's own name (Keras generates those differently from run to run): `layers/lstm`,
//   `layers/lstm_1`, `layers/simple_rnn`. A Sequential model's list leaves out its leading
//   InputLayer; a functional model's list holds every layer of its config, InputLayer included.
// - Keras 2.13–2.15 `.keras` files used `_layer_checkpoint_dependencies` instead of `layers`
//   (H5IOStore.get maps one to the other); reading accepts both.

/** One Keras layer of a model config and the vars groups that hold its weights, in `get_weights()` order. */
export interface KerasLayerVars {
  /** The layer's name in config.json (the key of KerasWeights). */
  name: string;
  /** Its class_name (`LSTM`, `Bidirectional`, …). */
  className: string;
  /** Its group in model.weights.h5, e.g. `layers/lstm_1`. */
  path: string;
  /**
   * Every vars group Keras makes for the layer and its nested layers, outermost first:
   * `path` (the group), `name` (its `name` attribute) and `weighted` (whether the layer's weights
   * live there: the cell of an RNN layer, each direction's cell of a Bidirectional, the wrapped
   * layer of TimeDistributed, else the layer's own group).
   */
  groups: { path: string; name: string; weighted: boolean }[];
}

/** Keras's `naming.to_snake_case`: `SimpleRNN` → `simple_rnn`, `InputLayer` → `input_layer`. */
export function kerasSnakeCase(className: string): string {
  return className
    .replace(/\W+/g, '')
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

/** The recurrent layer classes whose weights live in their `cell` (Keras's RNN subclasses). */
const CELL_LAYERS: Record<string, string> = { LSTM: 'lstm_cell', GRU: 'gru_cell', SimpleRNN: 'simple_rnn_cell' };

interface LayerConfigLike { class_name?: unknown; config?: { name?: unknown; layer?: unknown; backward_layer?: unknown } }

const asLayer = (v: unknown): LayerConfigLike => (v && typeof v === 'object' ? v as LayerConfigLike : {});
const layerName = (l: LayerConfigLike, fallback: string): string => (typeof l.config?.name === 'string' ? l.config.name : fallback);

function varsGroups(layer: LayerConfigLike, path: string, name: string): KerasLayerVars['groups'] {
  const cls = String(layer.class_name);
  const inner = asLayer(layer.config?.layer);
  if (cls in CELL_LAYERS) return [{ path: `${path}/vars`, name, weighted: false }, { path: `${path}/cell/vars`, name: CELL_LAYERS[cls], weighted: true }];
  if (cls === 'Bidirectional') {
    const base = layerName(inner, 'rnn');
    const backward = layer.config?.backward_layer ? asLayer(layer.config.backward_layer) : inner;
    return [
      { path: `${path}/vars`, name, weighted: false },
      ...varsGroups(inner, `${path}/forward_layer`, `forward_${base.replace(/^forward_/, '')}`),
      ...varsGroups(backward, `${path}/backward_layer`, layerName(backward, `backward_${base.replace(/^backward_/, '')}`)),
    ];
  }
  if (cls === 'TimeDistributed') return [{ path: `${path}/vars`, name, weighted: false }, ...varsGroups(inner, `${path}/layer`, layerName(inner, 'layer'))];
  return [{ path: `${path}/vars`, name, weighted: true }];
}

/**
 * The layers of a Keras model config (`{ class_name: 'Sequential' | 'Functional' | 'Model', config:
 * { layers } }`, Keras 3 or tfjs/Keras 2 flavour) with their groups in model.weights.h5.
 * `source` names the file in errors.
 */
export function keras3WeightLayout(modelConfig: unknown, source: string): KerasLayerVars[] {
  const model = asLayer(modelConfig) as { class_name?: unknown; config?: { layers?: unknown } };
  const cls = String(model.class_name);
  if (!['Sequential', 'Functional', 'Model'].includes(cls)) {
    throw new Error(`${source}: config.json describes a ${JSON.stringify(model.class_name)} model; expected a Sequential or functional (Functional / Model) Keras model`);
  }
  const layers = model.config?.layers;
  if (!Array.isArray(layers)) throw new Error(`${source}: config.json has no layer list (config.layers); expected the config Keras's model.save writes`);
  const listed = layers.map(asLayer);
  // Sequential.layers drops its leading InputLayer, so its weights never had a group.
  const saved = cls === 'Sequential' && listed[0]?.class_name === 'InputLayer' ? listed.slice(1) : listed;
  const used = new Map<string, number>();
  return saved.map((layer, i) => {
    const snake = kerasSnakeCase(String(layer.class_name));
    const n = used.get(snake);
    used.set(snake, n === undefined ? 0 : n + 1);
    const path = `layers/${n === undefined ? snake : `${snake}_${n + 1}`}`;
    const name = layerName(layer, `layer ${i}`);
    return { name, className: String(layer.class_name), path, groups: varsGroups(layer, path, name) };
  });
}
