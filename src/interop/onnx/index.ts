// ONNX interop: exportOnnx writes a model as an .onnx file (checked by onnxruntime), importOnnx
// builds a model from one (ours, or what torch.onnx.export writes for RNN models).
export { exportOnnx, ONNX_EXPORT_LAYERS, type OnnxExportOptions } from './export.ts';
export { importOnnx, ONNX_IMPORT_OPERATORS, type OnnxImportOptions } from './import.ts';
