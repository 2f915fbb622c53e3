/*
 * bridge identify.js: keeps one opaque reference per visitor, posts the experiment ids the
 * page's vendors gave this browser to bridge's identity ledger under that reference, and puts
 * the reference where a payment webhook will carry it back (Stripe Payment Links, forms).
 *
 *   <script src="https://bridge.example.com/identify.js" data-ledger="web" async></script>
 *
 * Plain ES2017, no dependencies, no build step: bridge serves this file as it is.
 */
(function () {
  "use strict";

  var w = window;
  var d = document;
  var REF_NAME = "bridge_ref";
  var SENT_KEY = "bridge_sent"; // localStorage: a hash per vendor of what was last posted
  var REF_PATTERN = /^[A-Za-z0-9_-]{22,64}$/;
  var WAIT_MS = 10000; // how long to look for vendor globals that load late
  var POLL_MS = 200;
  var YEAR_SECONDS = 31536000;
  var PAYMENT_LINKS = 'a[href^="https://buy.stripe.com/"]';
  // What the ledger refuses as not printable (Python's str.isprintable): control and format
  // characters and every separator but the plain space. Older engines: controls only.
  var UNPRINTABLE = (function () {
    try {
      return new RegExp("(?! )[\\p{C}\\p{Z}]", "u");
    } catch (e) {
      return /[\u0000-\u001f\u007f-\u00a0]/;
    }
  })();

  var tag = d.currentScript; // null once the script has run: read it now
  var api = (w.bridge = w.bridge || { q: [] });
  if (api.ref) return; // loaded twice (a tag and a tag manager): the first one runs
  var queued = api.q || [];
  var config = fromTag(tag);
  var state = {
    ref: null, started: false, deadline: 0, listening: false, convertEvaluated: false,
    captured: {}, // vendor -> the ids read so far
    sending: {}, // ledger|vendor -> the hash of a post not yet answered
  };

  /* ---------- configuration ---------- */

  // The tag's data attributes; `bridge.identify({...})` options override them.
  function fromTag(script) {
    var data = (script && script.dataset) || {};
    return {
      origin: script && script.src ? new URL(script.src, location.href).origin : "",
      ledger: data.ledger || "",
      vendors: list(data.vendors),
      pagentLabel: data.pagentLabel,
      conductricsVid: data.conductricsVid,
      scanovaParam: data.scanovaParam,
      forms: data.forms || "",
      consent: data.consent,
    };
  }

  function list(value) {
    if (Array.isArray(value)) return value.map(String);
    if (!value) return [];
    return String(value).split(",").map(function (v) { return v.trim(); }).filter(Boolean);
  }

  function vendors() {
    if (config.vendors.length) return config.vendors.filter(function (v) { return adapters[v]; });
    // Without data-vendors: the two that need no naming, plus those the site named a source for.
    var found = ["pagent", "convert"];
    if (config.conductricsVid) found.push("conductrics");
    if (config.scanovaParam) found.push("scanova");
    return found;
  }

  function consentAllows() {
    return config.consent !== "pending" && config.consent !== "denied";
  }

  /* ---------- the visitor's reference ---------- */

  function readCookie(name) {
    var parts = d.cookie ? d.cookie.split("; ") : [];
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf("=");
      if (parts[i].slice(0, eq) !== name) continue;
      var value = parts[i].slice(eq + 1);
      try { return decodeURIComponent(value); } catch (e) { return value; }
    }
    return null;
  }

  function storage(action, key, value) {
    // localStorage throws in some private modes and sandboxed frames: treat that as absent.
    try {
      var ls = w.localStorage;
      if (action === "get") return ls.getItem(key);
      if (action === "set") ls.setItem(key, value);
      else ls.removeItem(key);
    } catch (e) { /* absent */ }
    return null;
  }

  function newRef() {
    // 128 random bits, base64url: 22 characters a Payment Link's client_reference_id accepts.
    var bytes = w.crypto.getRandomValues(new Uint8Array(16));
    var binary = String.fromCharCode.apply(null, bytes);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function writeCookie(value, maxAge) {
    var secure = location.protocol === "https:" ? "; Secure" : "";
    d.cookie = REF_NAME + "=" + value + "; Path=/; Max-Age=" + maxAge + "; SameSite=Lax" + secure;
  }

  function loadRef() {
    var candidates = [readCookie(REF_NAME), storage("get", REF_NAME)];
    for (var i = 0; i < candidates.length; i++) {
      if (candidates[i] && REF_PATTERN.test(candidates[i])) return candidates[i];
    }
    return newRef();
  }

  function keepRef(ref) {
    writeCookie(ref, YEAR_SECONDS); // rewritten on each visit: a year since the last one
    storage("set", REF_NAME, ref); // the copy that survives a cleared or blocked cookie
  }

  function forgetRef() {
    writeCookie("", 0);
    storage("remove", REF_NAME);
    storage("remove", SENT_KEY);
    state.ref = null;
  }

  /* ---------- vendor adapters: read(final) gives the vendor's ids, or null until ready ---- */

  function text(value) {
    // The ledger takes ids of 1..200 printable characters; anything else is left out.
    if (typeof value === "number") value = String(value);
    if (typeof value !== "string" || !value || value.length > 200) return undefined;
    return UNPRINTABLE.test(value) ? undefined : value;
  }

  function compact(ids) {
    var out = {};
    var any = false;
    Object.keys(ids).forEach(function (key) {
      if (ids[key] !== undefined) { out[key] = ids[key]; any = true; }
    });
    return any ? out : null;
  }

  function fits(entry) {
    return Boolean(text(entry)) && entry.length <= 100;
  }

  function shortPairs(pairs) {
    // At most 50 entries of strings up to 100 characters, sorted so a hash is stable.
    var out = {};
    pairs.filter(function (p) { return fits(p[0]) && fits(p[1]); })
      .sort(function (a, b) { return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0; })
      .slice(0, 50)
      .forEach(function (p) { out[p[0]] = p[1]; });
    return Object.keys(out).length ? out : undefined;
  }

  function flat(value) {
    // Convert's segments hold lists (devices, customSegments): sent as comma-joined text.
    if (Array.isArray(value)) return value.map(String).join(",");
    return typeof value === "string" || typeof value === "number" ? String(value) : "";
  }

  var adapters = {
    pagent: {
      read: function () {
        var pgnt = w._pgnt;
        if (!pgnt || typeof pgnt.variables !== "function") return null;
        var vars = pgnt.variables(config.pagentLabel) || {};
        if (!text(vars.session_id)) return null; // not started yet: look again
        return compact({
          session_id: text(vars.session_id),
          user_id: text(vars.user_id),
          conversion_id: text(vars.conversion_id),
        });
      },
    },
    convert: {
      read: function (final) {
        var convert = w.convert;
        if (!convert || typeof convert.getCurrentVisitorData !== "function") return null;
        var data = convert.getCurrentVisitorData() || {};
        var bucketing = data.bucketing || [];
        var pairs = Array.isArray(bucketing)
          ? bucketing.map(function (b) { return [flat(b.experienceId), flat(b.variationId)]; })
          : Object.keys(bucketing).map(function (k) { return [k, flat(bucketing[k])]; });
        // Bucketing exists once experiences are evaluated: wait for that, or for the deadline.
        if (!state.convertEvaluated && !pairs.length && !final) return null;
        var segments = data.segments || {};
        return compact({
          visitor_id: text(data.visitorId),
          bucketing: shortPairs(pairs),
          segments: shortPairs(Object.keys(segments).map(function (k) {
            return [k, flat(segments[k])];
          })),
        });
      },
    },
    conductrics: {
      read: function () {
        var name = config.conductricsVid;
        if (!name) return null;
        var vid = text(readCookie(name)) || text(w[name]);
        return vid ? { vid: vid } : null;
      },
    },
    scanova: {
      once: true, // the redirect's parameter is in the URL at load or not at all
      read: function () {
        var param = config.scanovaParam;
        var id = param ? text(new URLSearchParams(location.search).get(param)) : undefined;
        return id ? { session_id: id } : null;
      },
    },
  };

  /* ---------- capture and post ---------- */

  function tick(final) {
    if (!state.started) return;
    var names = vendors();
    var settled = true;
    names.forEach(function (name) {
      var ids = null;
      try { ids = adapters[name].read(final); } catch (e) { /* a vendor's global misbehaved */ }
      if (ids) state.captured[name] = ids;
      if (!state.captured[name] && !adapters[name].once) settled = false;
    });
    if (settled || final) post();
    return settled;
  }

  function poll() {
    var final = Date.now() >= state.deadline;
    if (!tick(final) && !final) setTimeout(poll, POLL_MS);
  }

  function hash(textValue) {
    // FNV-1a: enough to notice a change; nothing secret depends on it.
    var h = 0x811c9dc5;
    for (var i = 0; i < textValue.length; i++) {
      h ^= textValue.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    return (h >>> 0).toString(16);
  }

  function readSent() {
    try { return JSON.parse(storage("get", SENT_KEY) || "{}") || {}; } catch (e) { return {}; }
  }

  function post() {
    if (!state.ref || !config.ledger || !config.origin || !consentAllows()) return;
    var sent = readSent();
    var changed = {};
    var hashes = {};
    var any = false;
    Object.keys(state.captured).forEach(function (name) {
      var key = config.ledger + "|" + name;
      // The day is part of it: unchanged ids are posted again once a day, which makes good a
      // beacon lost on the way (offline, bridge unavailable) without posting on every page.
      var day = Math.floor(Date.now() / 86400000);
      var ids = JSON.stringify(state.captured[name]);
      var h = hash([state.ref, config.consent || "", day, ids].join("\n"));
      if (sent[key] === h || state.sending[key] === h) return;
      changed[name] = state.captured[name];
      hashes[key] = h;
      any = true;
    });
    if (!any) return; // the ledger holds these already: post only what changed
    var body = { v: 1, ref: state.ref, ids: changed };
    if (config.consent) body.consent = config.consent;
    Object.keys(hashes).forEach(function (key) { state.sending[key] = hashes[key]; });
    send(JSON.stringify(body)).then(function (ok) {
      Object.keys(hashes).forEach(function (key) { delete state.sending[key]; });
      if (!ok) return; // not remembered as sent: the next page load tries again
      var stored = readSent(); // re-read: another tab may have posted meanwhile
      Object.keys(hashes).forEach(function (key) { stored[key] = hashes[key]; });
      storage("set", SENT_KEY, JSON.stringify(stored));
    });
  }

  function send(json) {
    var url = config.origin + "/identify/" + encodeURIComponent(config.ledger);
    var type = "text/plain;charset=UTF-8"; // a CORS-simple request: no preflight
    if (navigator.sendBeacon && navigator.sendBeacon(url, new Blob([json], { type: type }))) {
      return Promise.resolve(true);
    }
    if (!w.fetch) return Promise.resolve(false);
    return fetch(url, {
      method: "POST", keepalive: true, mode: "cors", credentials: "omit",
      headers: { "Content-Type": type }, body: json,
    }).then(function (r) { return r.ok; }, function () { return false; });
  }

  function listenToConvert() {
    // Convert's documented hook: its queue runs the handler once experiences are evaluated.
    if (state.listening || vendors().indexOf("convert") < 0) return;
    state.listening = true;
    w._conv_q = w._conv_q || [];
    w._conv_q.push({
      what: "addListener",
      params: {
        event: "snippet.experiences_evaluated",
        handler: function () { state.convertEvaluated = true; tick(Date.now() >= state.deadline); },
      },
    });
  }

  /* ---------- where the reference travels ---------- */

  function attach() {
    var ref = state.ref;
    if (!ref) return;
    var links = d.querySelectorAll(PAYMENT_LINKS);
    for (var i = 0; i < links.length; i++) {
      var url = new URL(links[i].href);
      if (url.searchParams.get("client_reference_id") === ref) continue; // no observer loop
      url.searchParams.set("client_reference_id", ref); // the rest of the query is kept
      links[i].href = url.toString();
    }
    var forms = [];
    try {
      if (config.forms) forms = d.querySelectorAll(config.forms);
    } catch (e) { /* not a valid selector: the links still get the reference */ }
    for (var j = 0; j < forms.length; j++) {
      var input = forms[j].querySelector('input[name="' + REF_NAME + '"]');
      if (!input) {
        input = d.createElement("input");
        input.type = "hidden";
        input.name = REF_NAME;
        forms[j].appendChild(input);
      }
      if (input.value !== ref) input.value = ref;
    }
  }

  function observe() {
    // Links and forms rendered later (single-page apps, embedded forms) get the reference too.
    var scheduled = false;
    new MutationObserver(function () {
      if (scheduled) return;
      scheduled = true;
      setTimeout(function () { scheduled = false; attach(); }, 0);
    }).observe(d.documentElement, {
      childList: true, subtree: true, attributes: true, attributeFilter: ["href"],
    });
  }

  /* ---------- start ---------- */

  function start() {
    if (config.consent === "denied") { forgetRef(); return; } // nothing kept, nothing posted
    if (!consentAllows()) return; // pending: wait for bridge.identify({consent: "granted"})
    if (!state.ref) { state.ref = loadRef(); keepRef(state.ref); }
    listenToConvert(); // also when a later bridge.identify() adds convert
    if (state.started) { attach(); tick(true); return; }
    state.started = true;
    state.deadline = Date.now() + WAIT_MS;
    attach();
    observe();
    poll();
    // A visitor who leaves before the deadline still gets what was captured so far.
    d.addEventListener("visibilitychange", function () {
      if (d.visibilityState === "hidden") tick(true);
    });
  }

  function identify(options) {
    Object.keys(options || {}).forEach(function (key) {
      if (key === "vendors") config.vendors = list(options.vendors);
      else if (key === "forms") config.forms = list(options.forms).join(",");
      else config[key] = options[key];
    });
  }

  queued.forEach(identify);
  api.q = [];
  api.identify = function (options) { identify(options); start(); };
  api.ref = function () { return state.ref; };
  start();
})();
