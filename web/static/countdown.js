/*
 * Gatehouse: live countdown on "send a new code" buttons.
 *
 * Markup:  <button type="submit" data-countdown-seconds="42">Send a new code</button>
 *
 * If N > 0 the element is disabled and labelled "Send a new code (42s)",
 * counting down each second; at 0 it is re-enabled with its original label.
 * N = 0 (or a missing/invalid value) leaves the element alone. The server
 * still enforces the wait; this is only a convenience.
 *
 * Works on <button> (text label) and <input type="submit"> (value). Labels
 * should be plain text: the element's text content is replaced while counting.
 * The deadline is computed from the clock, so throttled timers in background
 * tabs do not make the count drift. CSP-safe: no eval, no inline handlers.
 */
(function () {
  'use strict';

  function isInput(el) {
    return el.tagName === 'INPUT';
  }

  function getLabel(el) {
    return isInput(el) ? el.value : el.textContent;
  }

  function setLabel(el, text) {
    if (isInput(el)) {
      el.value = text;
    } else {
      el.textContent = text;
    }
  }

  function setDisabled(el, disabled) {
    if ('disabled' in el) {
      el.disabled = disabled;
    }
    if (disabled) {
      el.setAttribute('aria-disabled', 'true');
      el.classList.add('is-counting');
    } else {
      el.removeAttribute('aria-disabled');
      el.classList.remove('is-counting');
      if (el.getAttribute('class') === '') {
        el.removeAttribute('class');
      }
    }
  }

  function start(el) {
    var n = parseInt(el.getAttribute('data-countdown-seconds'), 10);
    if (isNaN(n) || n <= 0 || el.getAttribute('data-countdown-running') === 'true') {
      return;
    }
    var label = getLabel(el).replace(/^\s+|\s+$/g, '');
    var end = Date.now() + n * 1000;
    el.setAttribute('data-countdown-running', 'true');
    setDisabled(el, true);

    function tick() {
      var left = end - Date.now();
      var secs = Math.ceil(left / 1000);
      if (secs <= 0) {
        setLabel(el, label);
        setDisabled(el, false);
        el.removeAttribute('data-countdown-running');
        return;
      }
      setLabel(el, label + ' (' + secs + 's)');
      // Wake up just after the displayed number changes.
      window.setTimeout(tick, left - (secs - 1) * 1000 + 20);
    }
    tick();
  }

  function init() {
    var els = document.querySelectorAll('[data-countdown-seconds]');
    for (var i = 0; i < els.length; i++) {
      start(els[i]);
    }
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();
