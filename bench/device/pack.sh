#!/usr/bin/env bash
# Packs .gpu/ (git-ignored) in the project root: everything a Linux x86-64 GPU machine that has
# no Node and no package registry needs to run the benchmarks there (README.md beside this script).
#   npm run bench:device                            # = bash bench/device/pack.sh, after npm install
#   bash bench/device/pack.sh bench/sampling.ts     # bundle other entry points as well
# It writes: node.xz (this machine's Node, stripped), dawn.node.xz (Dawn for linux-x64), deb/ (the
# Vulkan and GL loaders), node_modules/webgpu (Dawn's loader), one <entry>.mjs bundle per entry point
# (shaders included; bench/run.ts becomes bench.mjs, bench/device/check.ts check.mjs, record.ts
# record.mjs), the PyTorch scripts, setup.sh and run.sh. Then take the checkout with .gpu/ to the GPU
# machine and there, from its root: bash .gpu/run.sh (everything, under 8 minutes; see README.md).
set -euo pipefail
root=$(git rev-parse --show-toplevel); cd "$root"
here=bench/device

[ "$(uname -m)" = x86_64 ] || { echo "pack.sh: this machine is $(uname -m); the Node binary packed must run on the GPU machine (x86-64): run pack.sh on an x86-64 Linux machine" >&2; exit 1; }
[ -f node_modules/webgpu/dist/linux-x64/dawn.node ] || { echo "pack.sh: node_modules/webgpu/dist/linux-x64/dawn.node is missing; expected Dawn's webgpu package: run npm install first" >&2; exit 1; }
[ -x node_modules/.bin/esbuild ] || { echo "pack.sh: node_modules/.bin/esbuild is missing: run npm install first" >&2; exit 1; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
mkdir -p .gpu/deb

# Node: this machine's binary, stripped and compressed (packed once).
if [ ! -s .gpu/node.xz ]; then
  cp "$(readlink -f "$(command -v node)")" "$work/node" && strip "$work/node"
  xz -T2 -c "$work/node" > .gpu/node.xz
fi

# The Vulkan and GL loaders, as Debian/Ubuntu packages for amd64 (downloaded once; apt lists are
# kept in the temporary folder, so the system's own lists are left alone).
if ! ls .gpu/deb/libvulkan1_*.deb >/dev/null 2>&1; then
  mkdir -p "$work/lists/partial"
  apt_opts=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$work/lists")
  apt-get "${apt_opts[@]}" update >/dev/null 2>&1 || { echo "pack.sh: apt-get update failed; expected a Debian or Ubuntu machine with network access to fetch the loader packages" >&2; exit 1; }
  (cd .gpu/deb && apt-get "${apt_opts[@]}" download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null 2>&1) \
    || { echo "pack.sh: apt-get download of the Vulkan/GL loader packages failed" >&2; exit 1; }
fi

# Dawn: the webgpu package's loader and its linux-x64 binary (compressed; setup.sh unpacks it).
rm -rf .gpu/node_modules/webgpu; mkdir -p .gpu/node_modules/webgpu/dist/linux-x64
cp node_modules/webgpu/package.json node_modules/webgpu/index.js .gpu/node_modules/webgpu/
xz -T2 -c node_modules/webgpu/dist/linux-x64/dawn.node > .gpu/dawn.node.xz

# What to run: one ESM bundle per entry point, with the shaders inside and webgpu left external
# (it resolves to .gpu/node_modules/webgpu).
entries=(bench/run.ts bench/device/check.ts bench/device/record.ts "$@")
for entry in "${entries[@]}"; do
  [ -f "$entry" ] || { echo "pack.sh: entry point $entry not found; expected a .ts file path from the project root, e.g. bench/run.ts" >&2; exit 1; }
  name=$(basename "$entry" .ts); [ "$entry" = bench/run.ts ] && name=bench
  node_modules/.bin/esbuild "$entry" --bundle --platform=node --format=esm --target=node20 --external:webgpu \
    --banner:js="import {createRequire as __cr} from 'module'; const require = __cr(import.meta.url);" \
    --log-level=warning --outfile=".gpu/$name.mjs"
done
cp "$here/torch_anchor.py" bench/torch_peer.py .gpu/
cp "$here/run.sh" .gpu/run.sh

cat > .gpu/setup.sh <<'SETUP'
# Sourced from the project root at the start of a command on the GPU machine (as root: it unpacks
# the loader packages into /). Written by bench/device/pack.sh.
# The Vulkan/GL loaders, unless the machine has them already (then its own are kept).
if ! ldconfig -p | grep -q 'libvulkan\.so\.1 ' || ! ldconfig -p | grep -q 'libEGL\.so\.1 '; then
  for f in .gpu/deb/*.deb; do dpkg -x "$f" /; done; ldconfig
fi
mkdir -p /tmp/gpu-node && [ -x /tmp/gpu-node/node ] || { xz -dc .gpu/node.xz > /tmp/gpu-node/node && chmod +x /tmp/gpu-node/node; }
export PATH=/tmp/gpu-node:$PATH XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
# Containers that mount NVIDIA's driver under /usr/local/nvidia keep its Vulkan ICD there.
if [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json; fi
[ -f .gpu/node_modules/webgpu/dist/linux-x64/dawn.node ] || xz -dc .gpu/dawn.node.xz > .gpu/node_modules/webgpu/dist/linux-x64/dawn.node
node --version >/dev/null
SETUP
du -sh .gpu | sed 's/^\([^\t]*\).*/pack.sh: .gpu is \1/'
echo "pack.sh: on the GPU machine, from the checkout's root (as root): bash .gpu/run.sh [out-dir]"
echo "pack.sh: then here: npm run bench:device:record -- <out-dir> --write   (appends the tables to bench/RESULTS.md)"
