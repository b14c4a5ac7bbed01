// Prints the WGSL a kernel is compiled from, assembled the way the runtime assembles it
// (src/runtime/registry.ts: common.wgsl, then each part of the kernel's module in order), with a
// comment line before each part naming its file and the module lines it occupies, so a compile
// error's line number can be found by eye too.
//   npx tsx scripts/print-wgsl.ts lstm_step_forward      one kernel
//   npx tsx scripts/print-wgsl.ts --list                 every kernel and its parts
import { allKernels, getKernel, kernelSource } from '../src/runtime/registry.ts';
import { SHADERS } from '../src/shaders.generated.ts';
import '../src/kernels/index.ts';

const name = process.argv[2];
if (!name || name === '--help') {
  console.error('usage: npx tsx scripts/print-wgsl.ts <kernel name> | --list');
  process.exit(name ? 0 : 1);
}
if (name === '--list') {
  for (const k of allKernels()) console.log(`${k.name}  (entry ${k.entry ?? k.name}): ${k.file.split('+').join(' + ')}`);
} else {
  let spec;
  try {
    spec = getKernel(name);
  } catch (e) {
    console.error((e as Error).message);
    process.exit(1);
  }
  const { parts } = kernelSource(spec.file);
  console.log(`// kernel ${spec.name}: entry point ${spec.entry ?? spec.name}, overrides ${JSON.stringify(spec.overrides ?? {})}`);
  for (const p of parts) {
    console.log(`// ----- shaders/${p.file} (module lines ${p.first}–${p.first + p.lines - 1})`);
    console.log(SHADERS[p.file]);
  }
}
