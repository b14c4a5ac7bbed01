// What every example page's HTML shares, written where this script stands (after the page's own
// header): the tabs between the pages and the two banners (why WebGPU is unavailable; errors). A
// classic script, not a module, so that it also runs when a page is opened from a file:// URL, where
// browsers never run module scripts: it then says how to serve the page instead of leaving
// "looking for WebGPU…" (a served page's messages come from webgpu-support.ts). Plain JavaScript:
// Vite leaves classic scripts as they are (vite-ignore) and vite.config.ts copies it into the build.
(function () {
  var pages = [['index.html', 'char-RNN'], ['mnist.html', 'MNIST'], ['sentiment.html', 'Sentiment'], ['stock.html', 'Stock']];
  // '/' is index.html; a server that drops '.html' from its addresses gives 'mnist'.
  var here = location.pathname.split('/').pop() || 'index.html';
  if (!/\.html$/.test(here)) here += '.html';
  var tabs = pages.map(function (p) {
    return '<a href="./' + p[0] + '"' + (p[0] === here ? ' aria-current="page"' : '') + '>' + p[1] + '</a>';
  }).join('');
  document.currentScript.insertAdjacentHTML('beforebegin',
    '<nav class="pages">' + tabs + '</nav>' +
    '<div id="no-webgpu" class="banner" role="alert" hidden></div>' +
    '<div id="error" class="banner error" role="alert" hidden></div>');

  if (location.protocol !== 'file:') return;
  document.getElementById('adapter').textContent = 'not served: opened from a file';
  var banner = document.getElementById('no-webgpu');
  banner.textContent = 'This page was opened from a file. Browsers run its scripts and WebGPU only when a web server serves it: ' +
    'in the repository run `npm run web:dev` and open http://127.0.0.1:5173.';
  banner.hidden = false;
  // A page whose explanation its own script writes (the char-RNN page's #explain) says why it is empty.
  document.addEventListener('DOMContentLoaded', function () {
    var explain = document.getElementById('explain');
    if (explain) explain.textContent = 'Nothing can run until the page is served (see above).';
  });
})();
