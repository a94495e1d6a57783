/*
 * Gatehouse: draws the TOTP enrolment QR code in the browser.
 *
 * For every element carrying data-otpauth-uri="otpauth://totp/...", the URI
 * is encoded with the vendored qrcode-generator library (vendor/qrcode.js,
 * which must be loaded first) and drawn as an inline SVG. The SVG goes into
 * the element's descendant with class "qr-target" if there is one, otherwise
 * it is appended to the element itself.
 *
 * The secret never leaves the page: no network request, no third party.
 * CSP-safe (script-src 'self'; style-src 'self'): no eval, no inline
 * handlers, no style attributes, no HTML parsing. Only presentation attributes
 * (fill, shape-rendering) are set; sizing is left to CSS (.qr svg).
 *
 * If the library is missing or encoding fails, the page is left untouched:
 * the secret is shown as text for manual entry anyway.
 */
(function () {
  'use strict';

  var SVG_NS = 'http://www.w3.org/2000/svg';
  var QUIET_ZONE = 4; // modules of light margin on every side (ISO/IEC 18004)
  var LABEL = 'QR code for your authenticator app';

  function buildQR(text) {
    var qr = window.qrcode(0, 'M'); // type number 0 = smallest that fits
    if (window.qrcode.stringToBytesFuncs && window.qrcode.stringToBytesFuncs['UTF-8']) {
      // Byte mode as UTF-8 (an otpauth URI is normally pure ASCII anyway).
      window.qrcode.stringToBytes = window.qrcode.stringToBytesFuncs['UTF-8'];
    }
    qr.addData(text, 'Byte');
    qr.make();
    return qr;
  }

  // One path of the dark modules; horizontal runs are merged into one
  // rectangle each to keep the path short.
  function darkPath(qr) {
    var n = qr.getModuleCount();
    var d = [];
    for (var row = 0; row < n; row++) {
      var col = 0;
      while (col < n) {
        if (!qr.isDark(row, col)) {
          col++;
          continue;
        }
        var start = col;
        while (col < n && qr.isDark(row, col)) {
          col++;
        }
        var x = start + QUIET_ZONE;
        var y = row + QUIET_ZONE;
        d.push('M' + x + ' ' + y + 'h' + (col - start) + 'v1h-' + (col - start) + 'z');
      }
    }
    return d.join('');
  }

  function buildSVG(qr) {
    var size = qr.getModuleCount() + 2 * QUIET_ZONE;
    var svg = document.createElementNS(SVG_NS, 'svg');
    svg.setAttribute('xmlns', SVG_NS);
    svg.setAttribute('viewBox', '0 0 ' + size + ' ' + size);
    svg.setAttribute('shape-rendering', 'crispEdges');
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', LABEL);
    svg.setAttribute('focusable', 'false');
    svg.setAttribute('class', 'qr-code');

    var bg = document.createElementNS(SVG_NS, 'rect');
    bg.setAttribute('width', String(size));
    bg.setAttribute('height', String(size));
    bg.setAttribute('fill', '#ffffff');
    svg.appendChild(bg);

    var path = document.createElementNS(SVG_NS, 'path');
    path.setAttribute('d', darkPath(qr));
    path.setAttribute('fill', '#000000');
    svg.appendChild(path);
    return svg;
  }

  function render(host) {
    if (host.getAttribute('data-qr-rendered') === 'true') {
      return;
    }
    var uri = host.getAttribute('data-otpauth-uri');
    if (!uri) {
      return;
    }
    try {
      var svg = buildSVG(buildQR(uri));
      var target = host.querySelector('.qr-target') || host;
      target.appendChild(svg);
      host.setAttribute('data-qr-rendered', 'true');
    } catch (e) {
      // Leave the page as it is; the manual key is still shown.
      if (window.console && window.console.warn) {
        window.console.warn('gatehouse: could not draw the QR code', e);
      }
    }
  }

  function init() {
    if (typeof window.qrcode !== 'function') {
      return;
    }
    var hosts = document.querySelectorAll('[data-otpauth-uri]');
    for (var i = 0; i < hosts.length; i++) {
      render(hosts[i]);
    }
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();
