// npm run setup: everything a fresh machine needs before the examples and tests run.
//  1. npm dependencies (npm ci when node_modules is missing or older than package-lock.json).
//  2. On Linux, a WebGPU adapter on Dawn's default backend (Vulkan). If there is none, the software
//     Vulkan driver (Mesa lavapipe >= 24): installed with apt-get when running as root, otherwise the
//     exact commands are printed. Machines with a working GPU driver need nothing here.
//  3. With --browser: Debian's chromium for the browser tests.
//  4. With --judges: the frameworks the interop tests compare against: PyTorch (Debian's
//     python3-torch, run with /usr/bin/python3) and h5py (python3-h5py, which reads the .keras files
//     we write the way Keras does), installed with apt-get when running as root.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const log = (m) => console.log(`[setup] ${m}`);

function run(cmd, args, opts = {}) {
  log(`$ ${cmd} ${args.join(' ')}`);
  execFileSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });
}

// 1. npm dependencies
const lock = join(root, 'package-lock.json');
const installed = join(root, 'node_modules', '.package-lock.json');
if (!existsSync(installed) || (existsSync(lock) && statSync(lock).mtimeMs > statSync(installed).mtimeMs)) {
  // onnxruntime-node (a dev dependency, the ONNX judge) ships its CPU binaries in the package; its
  // install script would also try to download CUDA binaries from outside the registry.
  run('npm', ['ci', '--no-audit', '--no-fund'], { env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' } });
} else {
  log('npm dependencies are installed');
}

// 2. WebGPU adapter
function checkAdapter(backend) {
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'check-adapter.mjs'), backend], { cwd: root, encoding: 'utf8' });
  return { ok: r.status === 0, text: (r.stdout || '').trim() };
}

function osRelease() {
  try {
    const text = readFileSync('/etc/os-release', 'utf8');
    return Object.fromEntries(text.split('\n').filter((l) => l.includes('=')).map((l) => {
      const i = l.indexOf('=');
      return [l.slice(0, i), l.slice(i + 1).replace(/^"|"$/g, '')];
    }));
  } catch { return {}; }
}

/** Adds bookworm-backports to the Debian sources (deb822 entry or a .list line). Returns true if changed. */
function enableBackports(codename) {
  const suite = `${codename}-backports`;
  const deb822 = '/etc/apt/sources.list.d/debian.sources';
  if (existsSync(deb822)) {
    const text = readFileSync(deb822, 'utf8');
    if (text.includes(suite)) return false;
    // Add the suite to the entry that carries the main archive (Suites: bookworm bookworm-updates).
    const updated = text.replace(new RegExp(`^(Suites:\\s*${codename}(?:\\s+${codename}-updates)?)\\s*$`, 'm'), `$1 ${suite}`);
    if (updated !== text) { writeFileSync(deb822, updated); return true; }
  }
  const listFile = '/etc/apt/sources.list.d/webgpu-rnn-backports.list';
  if (existsSync(listFile)) return false;
  let uri = 'http://deb.debian.org/debian';
  if (existsSync('/etc/apt/sources.list')) {
    const m = new RegExp(`^deb\\s+(\\S+)\\s+${codename}\\s`, 'm').exec(readFileSync('/etc/apt/sources.list', 'utf8'));
    if (m) uri = m[1];
  }
  writeFileSync(listFile, `deb ${uri} ${suite} main\n`);
  return true;
}

function installLavapipe() {
  const os = osRelease();
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const cmds = [];
  if (os.ID === 'debian' && os.VERSION_CODENAME === 'bookworm') {
    cmds.push('# add bookworm-backports to the Suites line of /etc/apt/sources.list.d/debian.sources, then:');
    cmds.push('apt-get update', 'apt-get install -y -t bookworm-backports mesa-vulkan-drivers');
  } else {
    cmds.push('apt-get update', 'apt-get install -y mesa-vulkan-drivers');
  }
  if (!isRoot) {
    log('No WebGPU adapter was found, and setup is not running as root. Install Mesa lavapipe (>= 24) with:');
    for (const c of cmds) console.log(`    ${c.startsWith('#') ? c : `sudo ${c}`}`);
    log('then run `npm run setup` again.');
    process.exit(1);
  }
  if (!existsSync('/usr/bin/apt-get')) {
    log('No WebGPU adapter, and this is not a Debian/Ubuntu system: install your distribution\'s Mesa Vulkan drivers (lavapipe, Mesa >= 24).');
    process.exit(1);
  }
  if (os.ID === 'debian' && os.VERSION_CODENAME === 'bookworm') {
    if (enableBackports('bookworm')) log('added bookworm-backports to the apt sources');
    run('apt-get', ['update', '-q'], { env });
    run('apt-get', ['install', '-y', '-q', '-t', 'bookworm-backports', 'mesa-vulkan-drivers'], { env });
  } else {
    run('apt-get', ['update', '-q'], { env });
    run('apt-get', ['install', '-y', '-q', 'mesa-vulkan-drivers'], { env });
  }
}

if (process.platform === 'linux') {
  let r = checkAdapter('default');
  if (!r.ok) {
    log('no WebGPU adapter on Vulkan: installing the software Vulkan driver (Mesa lavapipe)');
    installLavapipe();
    r = checkAdapter('default');
    if (!r.ok) { log('still no WebGPU adapter after installing lavapipe'); process.exit(1); }
  }
  log(r.text);
} else {
  const r = checkAdapter('default');
  log(r.ok ? r.text : 'no WebGPU adapter found on the default backend: install or update your GPU driver');
}

// 3. Browser tests
if (process.argv.includes('--browser') && process.platform === 'linux' && !existsSync('/usr/bin/chromium')) {
  if (isRoot) {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    run('apt-get', ['update', '-q'], { env });
    run('apt-get', ['install', '-y', '-q', 'chromium'], { env });
  }
  else log('browser tests need Debian\'s chromium: sudo apt-get install -y chromium');
}
// 4. Interop judges
if (process.argv.includes('--judges') && process.platform === 'linux') {
  const hasModule = (m) => spawnSync('/usr/bin/python3', ['-c', `import ${m}`], { stdio: 'ignore' }).status === 0;
  const judges = [['torch', 'python3-torch', 'PyTorch'], ['h5py', 'python3-h5py', 'h5py (.keras files)']];
  const missing = judges.filter(([m]) => !hasModule(m));
  if (missing.length === 0) log('the interop judges (PyTorch, h5py) are installed');
  else if (isRoot && existsSync('/usr/bin/apt-get')) {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    run('apt-get', ['update', '-q'], { env });
    run('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing.map(([, pkg]) => pkg)], { env });
    for (const [m, pkg] of missing) if (!hasModule(m)) { log(`${pkg} was installed but \`import ${m}\` still fails`); process.exit(1); }
  } else log(`the interop tests need ${missing.map(([, , what]) => what).join(' and ')}: sudo apt-get install -y ${missing.map(([, pkg]) => pkg).join(' ')}`);
}
log('done');
