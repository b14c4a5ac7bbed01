// Interop with other frameworks' files: PyTorch state_dicts (torch.save .pt read safely and
// written, name mapping on load, a model from a state_dict and a description) and the tensor-file
// sniffing that lets a checkpoint load from either safetensors or .pt bytes.
export { nameMapper, mapNames, suggestPrefix, NAME_MAPPING_OPTIONS, type NameMapping, type NameMapper } from './names.ts';
export { unpickle, PickleError, type PickleValue, type PickleGlobal, type UnpickleHooks } from './pickle.ts';
export { decodePyTorch, looksLikeZip, looksLikePickle, PT_STORAGES, type PyTorchFile } from './pt-reader.ts';
export { encodePyTorch } from './pt-writer.ts';
export { decodeTensorFile, tensorFileFormat, type TensorFileFormat } from './tensor-file.ts';
export { modelFromPyTorch, describePyTorchStateDict, type PyTorchLayerSpec, type ModelFromPyTorchOptions } from './pytorch.ts';
