// Why WebGPU is not available to this page, in words a visitor can act on. Browsers expose
// navigator.gpu only to secure contexts (https, localhost, 127.0.0.1), so an insecure origin is
// told apart from a browser without WebGPU; a page opened from a file:// URL is handled by the
// classic script layout.js, because its module scripts never run there.

/** The page's situation, as the browser reports it (passed in so tests can describe any page). */
export interface PageEnvironment {
  protocol: string;
  host: string;
  isSecureContext: boolean;
  hasNavigatorGpu: boolean;
}

export function currentEnvironment(): PageEnvironment {
  return {
    protocol: location.protocol,
    host: location.host,
    isSecureContext: globalThis.isSecureContext,
    hasNavigatorGpu: 'gpu' in navigator,
  };
}

/** A message saying why this page cannot use WebGPU and what to do, or null when it can try. */
export function webgpuUnavailableReason(env: PageEnvironment): string | null {
  if (env.protocol === 'file:') {
    return 'This page was opened from a file. Browsers run its scripts and WebGPU only when a web server serves it: ' +
      'in the repository run `npm run web:dev` and open http://127.0.0.1:5173.';
  }
  if (!env.isSecureContext) {
    return `WebGPU needs a secure context, and this page comes over plain http from ${env.host}. ` +
      'Browsers offer WebGPU only to https pages and to http://localhost or http://127.0.0.1: open it over https, ' +
      `or on the machine that serves it (from elsewhere, forward the port, e.g. \`ssh -L 5173:127.0.0.1:5173 <server>\`, then open http://127.0.0.1:5173).`;
  }
  if (!env.hasNavigatorGpu) {
    return 'This browser has no WebGPU (navigator.gpu is missing). It is on by default in Chrome and Edge 113+ ' +
      '(Windows, macOS, ChromeOS; Android 121+), Firefox 141+ on Windows and Safari 26+. Elsewhere it may be behind a flag: ' +
      'chrome://flags/#enable-unsafe-webgpu in Chrome on Linux, dom.webgpu.enabled in Firefox\'s about:config, ' +
      'Develop › Feature Flags › WebGPU in older Safari.';
  }
  return null;
}

/** What to say when navigator.gpu exists but offers no adapter. */
export const NO_ADAPTER_REASON =
  'This browser has WebGPU but found no usable GPU adapter (navigator.gpu.requestAdapter() gave none). ' +
  'Usually the GPU or its driver is on the browser\'s blocklist, or hardware acceleration is off: turn on ' +
  '"Use graphics acceleration when available" in the browser\'s settings, update the GPU driver, and look at ' +
  'chrome://gpu (Chrome, Edge) or about:support (Firefox) for the reason; on Linux, Chrome may also need ' +
  'chrome://flags/#enable-vulkan.';
