// Every page: say so when part of the page could not be updated. htmx leaves the page as it was when a
// request fails (the server answered with an error, or did not answer), which reads as "nothing
// happened"; a status box or a beat plot that silently stops updating is worse than a message.
// The notice stays until that part of the page is updated again (another part's poll working says
// nothing about it), is said once however often a poll fails, and stays away once dismissed until
// that part works again.
(function () {
  "use strict";

  var failed = null; // the element whose update failed
  var dismissed = false;

  function notice() {
    return document.getElementById("update-failed");
  }

  function hide(box) {
    box.hidden = true;
    box.removeAttribute("role");
  }

  function show(target, text) {
    var box = notice();
    if (!box) return;
    var same = failed === target && box.querySelector("[data-text]").textContent === text;
    failed = target;
    if (dismissed && same) return;
    if (same && !box.hidden) return; // a poll failing again: said once
    dismissed = false;
    box.querySelector("[data-text]").textContent = text;
    box.setAttribute("role", "alert"); // an alert only while it says something
    box.hidden = false;
  }

  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    var what = status === 404
      ? "what it asked for was not found (it may no longer exist)"
      : status === 403
        ? "your account may not open it"
        : "the server answered with an error (" + status + ")";
    show(event.detail.target, "Part of this page could not be updated: " + what + ". Reload the page to try again.");
  });

  document.addEventListener("htmx:sendError", function (event) {
    show(event.detail.target, "Part of this page could not be updated: the server did not answer. Check the connection, then reload the page.");
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    // the part that failed updated after all (a poll that recovered after a restart, another beat plotted)
    if (!event.detail.successful || failed === null || event.detail.target !== failed) return;
    failed = null;
    dismissed = false;
    var box = notice();
    if (box) hide(box);
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("#update-failed [data-dismiss]") : null;
    if (!button) return;
    dismissed = true;
    hide(notice());
  });
})();

// A form marked data-submit-once: its buttons are disabled once it is sent (after the browser has taken
// the pressed button's value), so a second click does nothing while a large upload goes up; the
// page's own submission key makes the server answer a resent one with the first's result anyway.
(function () {
  "use strict";
  function sending(form, on) {
    if (on) form.setAttribute("data-sending", "1"); else form.removeAttribute("data-sending");
    form.querySelectorAll("button[type=submit]:not([hidden]), button:not([type]):not([hidden])").forEach(function (b) { b.disabled = on; });
    var busy = form.querySelector("[data-busy]");
    if (busy) busy.hidden = !on;
  }
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute || !form.hasAttribute("data-submit-once")) return;
    if (form.getAttribute("data-sending") === "1") { event.preventDefault(); return; }
    form.setAttribute("data-sending", "1");
    window.setTimeout(function () { sending(form, true); }, 0);
  });
  // Back to a page kept by the browser: its form can be sent again.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) return;
    document.querySelectorAll("form[data-submit-once]").forEach(function (form) { sending(form, false); });
  });
})();

// The beat table after its form or a pager link swapped it (#beats): the row a time went to in view, else the
// line saying what the table shows at the top of the view (the pager sits under fifty rows); the keyboard focus
// on that line where the link that held it is gone (Previous on the first page, Next on the last).
(function () {
  "use strict";
  // a class chosen shows its beats at once (the button stays, for a time typed and for pages without scripts)
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (input.name !== "beats_class" || !input.form || input.form.id !== "beat-filter") return;
    if (input.form.requestSubmit) input.form.requestSubmit();
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    var path = event.detail.requestConfig && event.detail.requestConfig.path;
    if (!path || !/\/recordings\/\d+\/beats\/(\?|$)/.test(path)) return;  // the table, not a beat's plot
    var status = document.getElementById("beats-status");
    var landed = document.querySelector("#beats tr.landed");
    var lost = !document.activeElement || document.activeElement === document.body;
    // only what is out of view is scrolled to: after the form (just above the line) the view stays put
    var inView = function (el) { var box = el.getBoundingClientRect(); return box.top >= 0 && box.bottom <= window.innerHeight; };
    if (landed) { if (!inView(landed)) landed.scrollIntoView({ block: "center" }); }
    else if (status && !inView(status)) status.scrollIntoView({ block: "start" });
    if (lost && status) {
      status.setAttribute("tabindex", "-1");
      status.focus({ preventScroll: true });
    }
  });
})();

// The interpretation's text (a textarea marked data-char-limit): its characters counted as the server counts them
// (every line break one character, without the blank around the text), in the line named by data-char-count,
// which turns into a warning past the limit; a screen reader hears only the crossing, not every keystroke. There is
// no maxlength: it cut a longer paste mid-word, silently. With data-draft-key, the unsigned text is kept in this
// tab's sessionStorage, so following the section's link to the event list and back loses nothing: restored into
// the field as the page gave it (empty, or the signed text to amend), never over a text the server gave back
// with its reason (data-draft-server), and cleared when the form is sent.
(function () {
  "use strict";
  function number(n) { return n.toLocaleString("en-US"); }
  function signedLength(text) {
    return Array.from(text.replace(/\r\n|[\r\u0085\u2028\u2029]/g, "\n").trim()).length;  // by code point
  }
  function storage() {
    try { return window.sessionStorage; } catch (e) { return null; }  // none where the browser refuses it
  }

  // Signed out (the login page shows): no draft of the tab is kept for whoever signs in next at this browser.
  function forgetDrafts() {
    var store = storage();
    if (!store || !document.querySelector('form input[name="username"]')) return;
    try {
      for (var i = store.length - 1; i >= 0; i--) {
        var key = store.key(i);
        if (key && key.indexOf("interpretation-draft:") === 0) store.removeItem(key);
      }
    } catch (e) { /* nothing kept */ }
  }

  function keepDraft(textarea) {
    var key = textarea.getAttribute("data-draft-key"), store = storage();
    if (!key || !store || !textarea.form) return;
    var fromServer = textarea.hasAttribute("data-draft-server");
    var given = fromServer ? null : textarea.defaultValue;  // what the page holds that is no draft of this tab
    function save() {
      try {
        if (textarea.value === given || !textarea.value.trim()) store.removeItem(key);
        else store.setItem(key, textarea.value);
      } catch (e) { /* full or refused: the draft is simply not kept */ }
    }
    var kept = null;
    try { kept = store.getItem(key); } catch (e) { kept = null; }
    if (fromServer) {
      save();  // the refused text is the draft now
    } else if (kept && kept.trim() && textarea.value === textarea.defaultValue && kept !== textarea.value) {
      textarea.value = kept;
      var details = textarea.closest("details");
      if (details) details.open = true;
      var note = document.createElement("p");
      note.className = "muted small";
      note.setAttribute("data-draft-restored", "");
      note.textContent = "Your unsigned draft from this tab is restored.";
      textarea.parentNode.insertBefore(note, textarea);
    }
    textarea.addEventListener("input", save);
    textarea.form.addEventListener("submit", function () {
      try { store.removeItem(key); } catch (e) { /* nothing kept */ }
    });
  }

  function count(textarea) {
    var limit = parseInt(textarea.getAttribute("data-char-limit"), 10);
    var box = document.getElementById(textarea.getAttribute("data-char-count") || "");
    if (!limit || !box) return;
    var alert = document.getElementById(box.id + "-alert");  // a status of its own: said only when the limit is crossed
    var wasOver = null;
    function update() {
      var n = signedLength(textarea.value), over = n > limit;
      box.textContent = number(n) + " / " + number(limit) + " characters" +
        (over ? ": " + number(n - limit) + " too many to sign" : "");
      box.classList.toggle("over", over);
      if (wasOver !== null && over !== wasOver && alert) {
        alert.textContent = over ? "Over the limit of " + number(limit) + " characters." : "Within the limit again.";
      }
      wasOver = over;
    }
    box.hidden = false;
    var described = (textarea.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
    if (described.indexOf(box.id) < 0) textarea.setAttribute("aria-describedby", described.concat(box.id).join(" "));
    textarea.addEventListener("input", update);
    update();
  }

  forgetDrafts();
  document.querySelectorAll("textarea[data-char-limit], textarea[data-draft-key]").forEach(function (textarea) {
    keepDraft(textarea);  // first: a restored draft is counted
    if (textarea.hasAttribute("data-char-limit")) count(textarea);
  });

  // A refused signature's page opens at #interpretation, and a browser runs no autofocus on a page opened at a
  // fragment: the text gets the focus here once the page has scrolled there, with its reason (the field's first
  // description) in view, as on a phone it was not.
  window.addEventListener("load", function () {
    // A form sent back with an error: the focus on its first field in error (a keyboard user had tabbed through the
    // page's header to get back to it), unless the page gave it elsewhere.
    var refused = document.querySelector(".field.has-error input:not([type=hidden]), .field.has-error select, .field.has-error textarea");
    if (refused && !document.querySelector("[autofocus]") && document.activeElement === document.body) {
      refused.focus();
      return;
    }
    // beats to change refused with none ticked: the focus on the first tick box, where the reason says to begin
    var ticks = document.querySelectorAll("#beats input[name=beats][form=beat-pick]");
    if (document.getElementById("beat-pick-error") && ticks.length && document.activeElement === document.body
        && !document.querySelector("#beats input[name=beats][form=beat-pick]:checked")) {
      ticks[0].focus();
      return;
    }
    var field = document.querySelector("textarea[autofocus]");
    if (!field || document.activeElement === field) return;
    field.focus({ preventScroll: true });
    var reason = document.getElementById((field.getAttribute("aria-describedby") || "").split(" ")[0]) || field;
    if (reason.getBoundingClientRect().top < 0 || field.getBoundingClientRect().bottom > window.innerHeight) {
      reason.scrollIntoView({ block: "start" });
    }
  });
})();

/* The upload form shows the fields of the kind chosen: pasted values for a beat file, the sampling rate and the
 * lead for a signal (the paste box had stayed in view under "Continuous signal"). A field holding a value or an
 * error stays shown whatever the kind; without script every field shows, as before. */
(function () {
  var kinds = document.querySelectorAll("input[type=radio][name=kind]");
  if (!kinds.length) return;
  var owners = { text: "beats", fs: "signal", lead: "signal" };
  function sync() {
    var chosen = document.querySelector("input[type=radio][name=kind]:checked");
    Object.keys(owners).forEach(function (name) {
      var input = kinds[0].form.elements[name], box = input && input.closest(".field");
      if (!box) return;
      box.hidden = chosen !== null && chosen.value !== owners[name] && !input.value && !box.classList.contains("has-error");
    });
  }
  kinds.forEach(function (radio) { radio.addEventListener("change", sync); });
  sync();
})();

// The beat table's ticks (form#beat-pick; its checkboxes sit in the table's first column). Sent in one field, the
// indices comma-separated: Django refuses a form of over 1,000 fields before any view reads it, and a thousand beats
// is what one correction takes (without scripts each checkbox is its own field, as the server reads too). Kept in
// this tab's sessionStorage per recording and page of the table, so the page reloading itself once the rhythm is
// recomputed loses none: restored where the page shows that page of the table again, never over the ticks the server
// gave back with a refusal, and cleared once the page says the correction was made.
(function () {
  "use strict";
  var PREFIX = "beat-pick:";
  function storage() {
    try { return window.sessionStorage; } catch (e) { return null; }  // none where the browser refuses it
  }
  function boxes(form) {
    return Array.prototype.filter.call(form.elements, function (el) { return el.type === "checkbox" && el.name === "beats"; });
  }
  function key(form) { return PREFIX + form.getAttribute("action"); }  // the recording's correction URL
  function place(form) { return form.elements.back ? form.elements.back.value : ""; }
  function read(form) {
    var store = storage();
    try { var kept = store && JSON.parse(store.getItem(key(form)) || "null"); } catch (e) { kept = null; }
    return kept && Array.isArray(kept.beats) ? kept : null;
  }
  function save(form) {
    var store = storage();
    if (!store) return;
    var ticked = boxes(form).filter(function (box) { return box.checked; }).map(function (box) { return box.value; });
    try {
      // with the corrections' version the ticks were made over: restored, the form sends it, so a colleague's
      // correction made meanwhile is refused rather than corrected over unseen
      var seen = form.elements.seen ? form.elements.seen.value : "";
      if (ticked.length) store.setItem(key(form), JSON.stringify({ back: place(form), beats: ticked, seen: seen }));
      else if ((read(form) || {}).back === place(form)) store.removeItem(key(form));  // another page's stay
    } catch (e) { /* full or refused: the ticks are simply not kept */ }
  }
  function restore() {
    var form = document.getElementById("beat-pick");
    if (!form) return;
    var store = storage();
    if (form.hasAttribute("data-ticks-done")) {  // the correction made: its ticks are done with
      try { if (store) store.removeItem(key(form)); } catch (e) { /* nothing kept */ }
      return;
    }
    var all = boxes(form);
    if (all.some(function (box) { return box.checked; })) { save(form); return; }  // the server's, with its refusal
    var kept = read(form);
    if (!kept || kept.back !== place(form)) return;
    var wanted = {};
    kept.beats.forEach(function (value) { wanted[String(value)] = true; });
    var restored = 0;
    all.forEach(function (box) { if (wanted[box.value]) { box.checked = true; restored++; } });
    if (!restored) return;
    if (typeof kept.seen === "string" && form.elements.seen) form.elements.seen.value = kept.seen;
    form.setAttribute("data-ticks-restored", String(restored));
    var note = document.createElement("p");
    note.className = "muted small";
    note.setAttribute("role", "status");
    note.setAttribute("data-ticks-restored-note", "");
    note.textContent = (restored === 1 ? "The beat" : "The " + restored + " beats") +
      " you ticked on this page of the table before are ticked again.";
    form.insertBefore(note, form.querySelector(".correct-lead"));
  }
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (box.type !== "checkbox" || box.name !== "beats" || !box.form || box.form.id !== "beat-pick") return;
    save(box.form);
  });
  // formdata does not bubble: heard on its way down to the form
  document.addEventListener("formdata", function (event) {
    if (!event.target || event.target.id !== "beat-pick") return;
    var ticked = event.formData.getAll("beats");
    event.formData.delete("beats");
    if (ticked.length) event.formData.append("beats", ticked.join(","));
  }, true);
  document.addEventListener("htmx:afterSettle", function (event) {
    var path = event.detail.requestConfig && event.detail.requestConfig.path;
    if (path && /\/recordings\/\d+\/beats\/(\?|$)/.test(path)) restore();  // another page of the table
  });
  // Signed out (the login page shows): nothing of the tab's is kept for whoever signs in next, as with drafts
  var store = storage();
  if (store && document.querySelector('form input[name="username"]')) {
    try {
      for (var i = store.length - 1; i >= 0; i--) {
        if ((store.key(i) || "").indexOf(PREFIX) === 0) store.removeItem(store.key(i));
      }
    } catch (e) { /* nothing kept */ }
  }
  restore();
})();

// A part of the page swapped by a poll (the dashboard's lists every 3 s while a recording is pending): the keyboard
// focus inside it had fallen to the page's top, as htmx keeps only a focused element that has an id. The control
// that held it is found again in the part's new content (by its link or name and its place) and takes it back.
(function () {
  "use strict";
  var FOCUSABLE = "a[href], button, input, select, textarea, summary, [tabindex]";
  var kept = null;
  document.addEventListener("htmx:beforeSwap", function () {
    var el = document.activeElement;
    kept = null;
    if (!el || el === document.body || el.id) return;  // nothing focused, or htmx puts it back by its id
    var part = el.parentElement && el.parentElement.closest("[id]");
    if (!part) return;
    var all = Array.prototype.slice.call(part.querySelectorAll(FOCUSABLE));
    kept = { part: part.id, at: all.indexOf(el), key: el.getAttribute("href") || el.getAttribute("name") || "",
             text: (el.textContent || "").trim() };
  });
  document.addEventListener("htmx:afterSettle", function () {
    var was = kept;
    if (!was || (document.activeElement && document.activeElement !== document.body)) return;
    kept = null;
    var part = document.getElementById(was.part);
    if (!part) return;
    var all = Array.prototype.slice.call(part.querySelectorAll(FOCUSABLE));
    var same = function (el) { return (el.getAttribute("href") || el.getAttribute("name") || "") === was.key; };
    var found = all.filter(function (el) { return same(el) && (el.textContent || "").trim() === was.text; })[0]
      || all.filter(same)[0] || all[Math.min(was.at, all.length - 1)];
    if (found) found.focus({ preventScroll: true });
  });
})();
