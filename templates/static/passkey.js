// Passkeys: the pages' one script, and only a bridge. The pages work without it (passwords,
// codes); with it, a button marked `data-passkey="create"` or `data-passkey="get"` asks the server
// to begin a WebAuthn ceremony (`data-begin`, a POST with the form's CSRF token and the optional
// `data-mode`), hands the options to the browser's authenticator, puts the answer into the form's
// hidden `ceremony` and `credential` fields and submits the form as any other. The server checks
// everything; nothing here is trusted. Elements marked `data-passkey-only` stay hidden without
// WebAuthn.
(function () {
  "use strict";
  if (!window.PublicKeyCredential || !navigator.credentials || !window.fetch) {
    return;
  }

  function decode(s) {
    var b = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4));
    var out = new Uint8Array(b.length);
    for (var i = 0; i < b.length; i++) {
      out[i] = b.charCodeAt(i);
    }
    return out.buffer;
  }

  function encode(buf) {
    if (!buf) {
      return null;
    }
    var bytes = new Uint8Array(buf);
    var s = "";
    for (var i = 0; i < bytes.length; i++) {
      s += String.fromCharCode(bytes[i]);
    }
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  // JSON from the server leaves absent members as null; WebAuthn dictionaries want them absent.
  function strip(o) {
    if (Array.isArray(o)) {
      return o.map(strip);
    }
    if (o && typeof o === "object") {
      var out = {};
      Object.keys(o).forEach(function (k) {
        if (o[k] !== null) {
          out[k] = strip(o[k]);
        }
      });
      return out;
    }
    return o;
  }

  function ids(list) {
    (list || []).forEach(function (c) {
      c.id = decode(c.id);
    });
  }

  function creationOptions(pk) {
    pk.challenge = decode(pk.challenge);
    pk.user.id = decode(pk.user.id);
    ids(pk.excludeCredentials);
    return { publicKey: pk };
  }

  function requestOptions(pk) {
    pk.challenge = decode(pk.challenge);
    ids(pk.allowCredentials);
    return { publicKey: pk };
  }

  function answer(c) {
    var r = c.response;
    var out = {
      id: c.id,
      rawId: encode(c.rawId),
      type: c.type,
      extensions: c.getClientExtensionResults ? c.getClientExtensionResults() : {},
      response: { clientDataJSON: encode(r.clientDataJSON) }
    };
    if (r.attestationObject) {
      out.response.attestationObject = encode(r.attestationObject);
      if (r.getTransports) {
        out.response.transports = r.getTransports();
      }
    } else {
      out.response.authenticatorData = encode(r.authenticatorData);
      out.response.signature = encode(r.signature);
      out.response.userHandle = encode(r.userHandle);
    }
    return out;
  }

  function status(form, text) {
    var el = form.querySelector("[data-passkey-status]");
    if (el) {
      el.textContent = text;
    }
  }

  function run(button) {
    var form = button.form;
    var failed = button.getAttribute("data-failed") || "";
    var body = new URLSearchParams();
    body.set("csrf", form.elements.csrf.value);
    if (button.getAttribute("data-mode")) {
      body.set("mode", button.getAttribute("data-mode"));
    }
    button.disabled = true;
    status(form, "");
    fetch(button.getAttribute("data-begin"), {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { Accept: "application/json" }
    })
      .then(function (r) {
        if (!r.ok) {
          throw new Error("begin " + r.status);
        }
        return r.json();
      })
      .then(function (begun) {
        var pk = strip(begun.publicKey);
        var asked = button.getAttribute("data-passkey") === "create"
          ? navigator.credentials.create(creationOptions(pk))
          : navigator.credentials.get(requestOptions(pk));
        return asked.then(function (c) {
          form.elements.ceremony.value = begun.ceremony;
          form.elements.credential.value = JSON.stringify(answer(c));
          form.submit();
        });
      })
      .catch(function () {
        button.disabled = false;
        status(form, failed);
      });
  }

  document.querySelectorAll("[data-passkey-only]").forEach(function (el) {
    el.hidden = false;
  });
  document.querySelectorAll("button[data-passkey]").forEach(function (button) {
    button.addEventListener("click", function (ev) {
      ev.preventDefault();
      run(button);
    });
  });
})();
