/*
 * Gatehouse: print buttons without inline onclick (forbidden by the CSP).
 *
 * Markup:  <button type="button" data-print hidden>Print these codes</button>
 *
 * A click on any element with a data-print attribute calls window.print().
 * If the element has the "hidden" attribute it is revealed, so a page can
 * hide the button from visitors without JavaScript, for whom it would do
 * nothing. What gets printed is decided by mfa.css (@media print, .print-area).
 */
(function () {
  'use strict';

  function onClick(e) {
    if (e && e.preventDefault) {
      e.preventDefault();
    }
    window.print();
  }

  function init() {
    if (typeof window.print !== 'function') {
      return;
    }
    var els = document.querySelectorAll('[data-print]');
    for (var i = 0; i < els.length; i++) {
      els[i].addEventListener('click', onClick);
      if (els[i].hasAttribute('hidden')) {
        els[i].removeAttribute('hidden');
      }
    }
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();
