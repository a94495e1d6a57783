/*
 * Gatehouse: passkeys through the browser's own WebAuthn API, without
 * inline script (forbidden by the CSP) and without any third-party code.
 *
 * Markup: a form with data-passkey and data-begin="/url", holding a hidden
 * input named "credential" and a button with one of
 *   data-action="passkey-register"  (navigator.credentials.create)
 *   data-action="passkey-verify"    (navigator.credentials.get, the user's passkeys)
 *   data-action="passkey-signin"    (navigator.credentials.get, discoverable)
 * Forms with data-passkey are hidden in the markup and shown here only when
 * the browser has WebAuthn, so without JavaScript nothing dead is on the page.
 *
 * A click POSTs to data-begin, which answers the options as JSON (and sets
 * the ceremony's cookie), asks the browser for the credential, puts its JSON
 * in the "credential" input and submits the form. Errors appear in the
 * form's [data-passkey-error] element.
 */
(function () {
  'use strict';

  function toBuf(s) {
    s = s.replace(/-/g, '+').replace(/_/g, '/');
    while (s.length % 4) {
      s += '=';
    }
    var bin = atob(s);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) {
      out[i] = bin.charCodeAt(i);
    }
    return out.buffer;
  }

  function toB64(buf) {
    var bytes = new Uint8Array(buf);
    var bin = '';
    for (var i = 0; i < bytes.length; i++) {
      bin += String.fromCharCode(bytes[i]);
    }
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function descriptors(list) {
    return (list || []).map(function (d) {
      var out = { type: d.type, id: toBuf(d.id) };
      if (d.transports) {
        out.transports = d.transports;
      }
      return out;
    });
  }

  function creationOptions(pk) {
    pk.challenge = toBuf(pk.challenge);
    pk.user.id = toBuf(pk.user.id);
    pk.excludeCredentials = descriptors(pk.excludeCredentials);
    return pk;
  }

  function requestOptions(pk) {
    pk.challenge = toBuf(pk.challenge);
    if (pk.allowCredentials) {
      pk.allowCredentials = descriptors(pk.allowCredentials);
    }
    return pk;
  }

  function credentialJSON(cred) {
    var r = cred.response;
    var response = { clientDataJSON: toB64(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toB64(r.attestationObject);
      if (typeof r.getTransports === 'function') {
        response.transports = r.getTransports();
      }
    } else {
      response.authenticatorData = toB64(r.authenticatorData);
      response.signature = toB64(r.signature);
      if (r.userHandle) {
        response.userHandle = toB64(r.userHandle);
      }
    }
    return JSON.stringify({
      id: cred.id,
      rawId: toB64(cred.rawId),
      type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: response
    });
  }

  function showError(form, msg) {
    var el = form.querySelector('[data-passkey-error]');
    if (!el) {
      return;
    }
    el.textContent = msg;
    el.hidden = false;
  }

  function run(form, action, button) {
    if (action === 'passkey-register' && !form.reportValidity()) {
      return;
    }
    button.disabled = true;
    fetch(form.getAttribute('data-begin'), {
      method: 'POST',
      credentials: 'same-origin',
      headers: { Accept: 'application/json' }
    }).then(function (res) {
      if (res.redirected) {
        // Sign in again, or confirm it's you first.
        window.location.assign(res.url);
        return null;
      }
      return res.json().then(function (body) {
        if (!res.ok) {
          throw new Error(body.message || 'That did not work. Please try again.');
        }
        return body;
      });
    }).then(function (options) {
      if (!options) {
        return null;
      }
      if (action === 'passkey-register') {
        return navigator.credentials.create({ publicKey: creationOptions(options.publicKey) });
      }
      return navigator.credentials.get({ publicKey: requestOptions(options.publicKey) });
    }).then(function (cred) {
      if (!cred) {
        button.disabled = false;
        return;
      }
      form.querySelector('input[name="credential"]').value = credentialJSON(cred);
      form.submit();
    }).catch(function (err) {
      button.disabled = false;
      if (err && err.name === 'NotAllowedError') {
        showError(form, 'The passkey request was cancelled or timed out. Try again, or try another way.');
      } else if (err && err.name === 'InvalidStateError') {
        showError(form, 'This device already holds a passkey for your account.');
      } else {
        showError(form, (err && err.message) || 'That did not work. Please try again.');
      }
    });
  }

  function init() {
    var supported = !!(window.PublicKeyCredential && navigator.credentials && window.fetch);
    var forms = document.querySelectorAll('form[data-passkey]');
    for (var i = 0; i < forms.length; i++) {
      var form = forms[i];
      if (!supported) {
        continue;
      }
      form.hidden = false;
      var buttons = form.querySelectorAll('button[data-action^="passkey-"]');
      for (var j = 0; j < buttons.length; j++) {
        (function (f, b) {
          b.addEventListener('click', function (e) {
            e.preventDefault();
            run(f, b.getAttribute('data-action'), b);
          });
        })(form, buttons[j]);
      }
      // Enter in the name field starts the ceremony rather than posting an
      // empty credential.
      form.addEventListener('submit', function (e) {
        var f = e.target;
        if (!f.querySelector('input[name="credential"]').value) {
          e.preventDefault();
          var b = f.querySelector('button[data-action^="passkey-"]');
          run(f, b.getAttribute('data-action'), b);
        }
      });
    }
    if (!supported) {
      var notes = document.querySelectorAll('[data-passkey-unsupported]');
      for (var k = 0; k < notes.length; k++) {
        notes[k].hidden = false;
      }
    }
    var confirms = document.querySelectorAll('form[data-confirm]');
    for (var c = 0; c < confirms.length; c++) {
      confirms[c].addEventListener('submit', function (e) {
        if (!window.confirm(e.target.getAttribute('data-confirm'))) {
          e.preventDefault();
        }
      });
    }
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();
