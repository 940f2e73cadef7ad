/* ECG viewer: the recording on standard ECG paper, drawn on <canvas>. No framework, no network
 * other than this site's own JSON endpoints.
 *
 * Markup: an element with [data-ecg-viewer] and data-kind="signal" | "beats" (see
 * templates/diagnostics/_viewer.html). Signal recordings are fetched as min/max envelopes of the
 * visible window (GET data-signal-url?start=&end=&px=), so a 650,000-sample lead pans smoothly;
 * beat files are shown one stored model-input beat at a time (GET data-beat-url with {i}).
 */
(function () {
  "use strict";

  var PX_PER_MM = 4; // CSS pixels per millimetre of paper at zoom 1
  var MM_PER_S = 25;
  var COLOURS = { N: "#2f6f3e", S: "#8a5a00", V: "#b3141b", F: "#6a3d9a", Q: "#4d5560" };
  var NAMES = {
    N: "Normal / bundle branch block", S: "Supraventricular ectopic", V: "Ventricular ectopic",
    F: "Fusion", Q: "Paced / unclassifiable"
  };
  var PAPER = "#fffafa", MINOR = "#f7d4d4", MAJOR = "#e59a9a", SECOND = "#c96b6b", TRACE = "#111";
  var SIGNAL_ZOOMS = [1 / 128, 1 / 64, 1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 1, 2, 4];
  var BEAT_ZOOMS = [1, 2, 4, 8];
  // The strip's top, from its edge down: a bar per rhythm event, their labels (two rows where events overlap), then
  // the beat letters, each band its own, so an episode's name never covers a beat's class.
  var EVENT_BAR = 5, EVENT_ROW = 13, EVENT_ROWS = 2;
  var EVENT_COLOURS = { vf: "#a4161a", asystole: "#a4161a", vt: "#a4161a", v_run: "#b3141b", v_couplet: "#b3141b",
    bigeminy: "#b3141b", trigeminy: "#b3141b", af: "#0b5cad", afl: "#0b5cad", svt: "#8a5a00", s_run: "#8a5a00",
    s_couplet: "#8a5a00", pause: "#6a3d9a", brady: "#4d5560", tachy: "#4d5560" };
  // Events described by their duration alone, as the event list: VF/VFL has no beats to count, asystole none, and a
  // pause is one R-R interval. Inside VF/VFL the detections are waves, not beats: drawn grey, without a class letter.
  var DURATION_ONLY = { vf: true, asystole: true, pause: true };
  var IN_VF = "#9aa1a9";
  // The patient's diary (app.css --diary): each entry in view a dashed line across the strip, its symptom at the
  // line's foot above the time labels (a second row up where two labels would meet), as a strip marks its entry.
  var DIARY = "#0b6e75", DIARY_ROW = 16, DIARY_FOOT = 18, DIARY_ROWS = 3;

  // Whole units (seconds, or hundredths withFraction) of a moment, cut rather than rounded, as the event list
  // writes an event's start: 42.50 s is 0:00:42 there and here, not 0:00:43. (The epsilon keeps a moment
  // that is a whole second, 29 / 100 s, from reading a unit early through floating point.)
  function cut(seconds, scale) { return Math.floor(seconds * scale + 1e-6); }

  // A duration in seconds to one decimal, as the event list, report and API write it (ecg.clock.seconds_cut):
  // cut, not rounded, so no duration reads longer than it is (a 3.997-s pause reads 3.9, under asystole's 4 s;
  // 18.99 s reads 18.9).
  function tenths(seconds) { return (cut(seconds, 10) / 10).toFixed(1); }

  // h:mm:ss into the recording as the pages write it (ecg/clock.py clock: the second the moment falls in, hours
  // unpadded and always there, 0:05:30 and 1:02:03; "—" for no time), so "(0:05:30 in)" reads alike on the page
  // and in the viewer; withFraction, its hundredths after it, cut too, before it is split: 9.997 s is 0:00:09.99.
  function clock(seconds, withFraction) {
    if (typeof seconds !== "number" || !isFinite(seconds)) return "—";
    seconds = Math.max(0, seconds);
    var units = withFraction ? cut(seconds, 100) : Math.floor(seconds + 1e-9);
    var whole = withFraction ? Math.floor(units / 100) : units;
    var h = Math.floor(whole / 3600), m = Math.floor(whole % 3600 / 60), s = whole % 60;
    var text = h + ":" + (m < 10 ? "0" : "") + m + ":" + (s < 10 ? "0" : "") + s;
    if (withFraction) text += "." + (units % 100 < 10 ? "0" : "") + (units % 100);
    return text;
  }

  // The time of day (hh:mm:ss, past midnight again after 24 h) of a moment ``seconds`` after midnight,
  // cut as clock() cuts.
  function timeOfDay(seconds, withFraction) {
    var scale = withFraction ? 100 : 1, day = 86400 * scale;
    var units = ((cut(seconds, scale) % day) + day) % day;
    var whole = Math.floor(units / scale);
    function two(n) { return (n < 10 ? "0" : "") + n; }
    var text = two(Math.floor(whole / 3600)) + ":" + two(Math.floor(whole / 60) % 60) + ":" + two(whole % 60);
    if (withFraction) text += "." + two(units % scale);
    return text;
  }

  // A moment of the recording as the pages write it (diagnostics/holter.py at): the time into it, and the time of
  // day first where the file stated when it started ("10:02:05 (0:12:05 in)"), so the viewer and the event list
  // agree.
  function moment(seconds, dayStart, withFraction) {
    if (dayStart === null || !isFinite(dayStart)) return clock(seconds, withFraction);
    seconds = Math.max(0, seconds);
    // whole seconds as the pages write them: the start's second plus the whole seconds into the recording
    var at = withFraction ? dayStart + seconds : Math.floor(dayStart) + Math.floor(seconds + 1e-9);
    return timeOfDay(at, withFraction) + " (" + clock(seconds, withFraction) + " in)";
  }

  function el(root, sel) { return root.querySelector(sel); }

  /* The viewer's JSON requests (the signal, a beat, the rhythm events). A session that has ended (logged
   * out after ECG_IDLE_TIMEOUT_SECONDS idle, or its cookie gone) is answered with a redirect to the login
   * page (accounts.middleware.to_login), which fetch follows to an HTML page: the browser then goes to
   * that page itself, to come back to this page rather than to the JSON asked for. Anything else that is
   * not JSON rejects with a message to show ("Could not load the signal (HTTP 500); try again."); a
   * rejection with ``leaving`` set only says that the page is going to the login. */
  var LOGIN_PATH = "/accounts/login/";

  function loadError(message, status, leaving) {
    var err = new Error(message);
    err.status = status;
    err.leaving = !!leaving;
    return err;
  }

  function isJson(r) { return /^application\/([\w.-]+\+)?json\b/i.test(r.headers.get("Content-Type") || ""); }

  // The sign-in page a request was redirected to (the login, or the second sign-in step, which
  // ask where to come back to), on this site; else null.
  function signInPath(r) {
    if (!r.redirected || !r.url) return null;
    var url;
    try { url = new URL(r.url, window.location.href); } catch (e) { return null; }
    if (url.origin !== window.location.origin) return null;
    return url.pathname.indexOf(LOGIN_PATH) === 0 || url.searchParams.has("next") ? url.pathname : null;
  }

  var goneToLogin = false; // one navigation, however many requests find the session ended

  function getJson(url, what, init) {
    var options = { credentials: "same-origin", headers: { Accept: "application/json" } };
    for (var k in init || {}) options[k] = init[k];
    return fetch(url, options).then(function (r) {
      var json = isJson(r), signIn = json ? null : signInPath(r);
      if (signIn || (r.status === 401 && !json)) {
        if (!goneToLogin) {
          goneToLogin = true;
          var here = window.location.pathname + window.location.search;
          // a moment later: another part of the page that found the session ended (htmx) may already
          // be taking the page to the login, and a second navigation would abort it
          window.setTimeout(function () {
            window.location.assign((signIn || LOGIN_PATH) + "?next=" + encodeURIComponent(here));
          }, 400);
        }
        throw loadError("Your session has ended; opening the login page.", r.status, true);
      }
      if (!r.ok) throw loadError("Could not load " + what + " (HTTP " + r.status + "); try again.", r.status);
      if (!json) throw loadError("Could not load " + what + " (the server did not answer with data); try again.", r.status);
      return r.json();
    });
  }

  // What a failed request leaves in the info box (while the page goes to the login: that it does).
  function showLoadError(info, err, what) {
    if (!info || err.name === "AbortError") return;
    if (err.leaving) { info.textContent = err.message; return; }
    info.textContent = err.status !== undefined ? err.message : "Could not load " + what + " (" + err.message + "); try again.";
  }

  function setupCanvas(canvas, cssHeight) {
    var dpr = window.devicePixelRatio || 1;
    var w = Math.max(200, Math.floor(canvas.clientWidth || canvas.parentNode.clientWidth));
    canvas.style.height = cssHeight + "px";
    canvas.width = Math.floor(w * dpr);
    canvas.height = Math.floor(cssHeight * dpr);
    var ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    return { ctx: ctx, w: w, h: cssHeight };
  }

  /* Paper grid: 1 mm minor and 5 mm major lines vertically and horizontally. ``pxPerMmX`` is the
   * horizontal scale (zoom), lines too dense to read are replaced by 1 s / 10 s lines. */
  function drawGrid(ctx, w, h, pxPerMmX, offsetMm) {
    ctx.fillStyle = PAPER;
    ctx.fillRect(0, 0, w, h);
    function vertical(everyMm, colour, width) {
      var spacing = everyMm * pxPerMmX;
      if (spacing < 3) return false;
      ctx.strokeStyle = colour; ctx.lineWidth = width; ctx.beginPath();
      var first = Math.ceil(offsetMm / everyMm) * everyMm;
      for (var mm = first; (mm - offsetMm) * pxPerMmX <= w; mm += everyMm) {
        var x = Math.round((mm - offsetMm) * pxPerMmX) + 0.5;
        ctx.moveTo(x, 0); ctx.lineTo(x, h);
      }
      ctx.stroke();
      return true;
    }
    function horizontal(everyMm, colour, width) {
      ctx.strokeStyle = colour; ctx.lineWidth = width; ctx.beginPath();
      for (var y = 0; y <= h; y += everyMm * PX_PER_MM) {
        ctx.moveTo(0, Math.round(y) + 0.5); ctx.lineTo(w, Math.round(y) + 0.5);
      }
      ctx.stroke();
    }
    horizontal(1, MINOR, 1);
    vertical(1, MINOR, 1);
    horizontal(5, MAJOR, 1);
    if (!vertical(5, MAJOR, 1)) {
      if (25 * pxPerMmX >= 8) vertical(25, MAJOR, 1); // 1 s lines, else 10 s lines
      else vertical(250, MAJOR, 1);
    }
    if (pxPerMmX >= 1) vertical(25, SECOND, 1.2); // a darker line each second
  }

  function node(tag, className, text) {
    var n = document.createElement(tag);
    if (className) n.className = className;
    if (text !== undefined) n.textContent = text;
    return n;
  }

  // A probability to three places as the beat table writes it (Django's floatformat: the number's shortest decimal
  // form rounded half up), not as toFixed rounds its binary value (0.3465 is 0.34649999… in binary: toFixed
  // gives 0.346, the table 0.347).
  function threePlaces(p) {
    var s = String(p);
    if (!/^\d+(\.\d+)?$/.test(s)) return p.toFixed(3); // exponent form: far under 0.0005
    var parts = s.split("."), digits = (parts[1] || "") + "0000";
    var thousandths = parseInt(parts[0], 10) * 1000 + parseInt(digits.slice(0, 3), 10) + (digits.charAt(3) >= "5" ? 1 : 0);
    return Math.floor(thousandths / 1000) + "." + String(thousandths % 1000).padStart(3, "0");
  }

  function probabilityRow(label, p, colour) {
    var li = node("li"), bar = node("span", "bar"), fill = node("span");
    bar.setAttribute("aria-hidden", "true");
    fill.style.width = (100 * p).toFixed(1) + "%"; // CSSOM, which the Content-Security-Policy allows
    fill.style.background = colour;
    bar.appendChild(fill);
    li.append(node("span", "cls cls-" + label, label), bar, node("span", "", threePlaces(p)));
    return li;
  }

  function probabilityList(data) {
    var list = node("ul", "probs");
    list.setAttribute("aria-label", "Probabilities");
    ["N", "S", "V", "F", "Q"].forEach(function (c) {
      list.appendChild(probabilityRow(c, data.probabilities[c] || 0, COLOURS[c]));
    });
    if (data.mi_probability !== null && data.mi_probability !== undefined) {
      list.appendChild(probabilityRow("MI", data.mi_probability, "#102a43"));
    }
    return list;
  }

  function describeBeat(data, fs, dayStart) {
    var where = data.position !== null && fs ? " at " + moment(data.position / fs, dayStart === undefined ? null : dayStart, true) : "";
    var title = node("p", "beat-title"), cls = String(data["class"]);
    title.append(node("strong", "", "Beat " + (data.index + 1)), " of " + data.count + where + ": ",
      node("span", "cls cls-" + cls, cls), " " + (data.class_name || NAMES[cls] || ""));
    var fragment = document.createDocumentFragment();
    fragment.append(title, probabilityList(data));
    if (data.corrected_from) { // a doctor set it: the probabilities are the analysis's, which gave the other class
      fragment.append(node("p", "muted small corrected-note", "Class " + cls + " corrected from " + data.corrected_from +
        " by a doctor: the probabilities are the analysis's, which had called it " + data.corrected_from + "."));
    }
    if (data.by_rule) { // the class is not the most probable one: say why, or it reads as a contradiction
      fragment.append(node("p", "muted small by-rule-note", "Class " + cls + " was set by a rule from the beat's " +
        "context (the rhythm, its neighbours' classes and QRS shapes), not by its highest probability."));
    }
    return fragment;
  }

  // For a doctor, the page's form calling the selected beat another class, under its description: a <template> the
  // server wrote (with its CSRF token) is filled in with the beat's index, its class now set aside (no change).
  function showCorrectForm(root, data) {
    var template = el(root, "template[data-correct-form]"), slot = el(root, "[data-correct-slot]");
    if (!template || !slot) return;
    var form = template.content.firstElementChild.cloneNode(true), select = el(form, "select");
    el(form, "[data-correct-beat]").value = String(data.index);
    el(form, "[data-correct-which]").textContent = " (beat " + (data.index + 1) + ", " + data["class"] + " now)";
    var now = el(select, 'option[value="' + data["class"] + '"]');
    if (now) {
      if (now.selected) select.value = "";
      now.disabled = true;
    }
    slot.replaceChildren(form);
  }

  /* ---------------------------------------------------------------- continuous signal */

  function SignalViewer(root) {
    this.root = root;
    this.canvas = el(root, "canvas.ecg");
    this.overview = el(root, "canvas.overview");
    this.info = el(root, "[data-info]");
    this.readout = el(root, "[data-readout]");
    this.scale = el(root, "[data-scale]");
    this.signalUrl = root.dataset.signalUrl;
    this.beatUrl = root.dataset.beatUrl;
    this.fs = parseFloat(root.dataset.fs);
    this.samples = parseInt(root.dataset.samples, 10);
    this.dayStart = root.dataset.startOfDay ? parseFloat(root.dataset.startOfDay) : null;
    this.zoomIndex = SIGNAL_ZOOMS.indexOf(1);
    this.gain = 10; // mm per mV
    this.start = 0;
    this.cache = null;
    this.whole = null;
    this.selected = null;
    this.asked = null; // the beat last asked for while its answer is awaited: quick presses step on from it
    this.unitScale = 1;
    this.inMv = true;
    this.pending = null;
    this.events = null;
    this.eventIndex = null;
    this.diary = null;
    this.diaryIndex = null;
    this.rhythmUrl = root.dataset.rhythmUrl;
    this.lead = null; // the analysed lead until another is chosen
    this.bind();
    this.resize();
    this.loadOverview();
    if (this.rhythmUrl) this.loadEvents();
    // opened at a beat (the shapes page's "Show in viewer": ?beat=): that beat selected, in view
    if (root.dataset.select) this.select(parseInt(root.dataset.select, 10), true);
  }

  SignalViewer.prototype.pxPerSample = function () {
    return PX_PER_MM * MM_PER_S * SIGNAL_ZOOMS[this.zoomIndex] / this.fs;
  };
  SignalViewer.prototype.visible = function () { return this.width / this.pxPerSample(); };

  SignalViewer.prototype.clamp = function () {
    var max = Math.max(0, this.samples - this.visible());
    this.start = Math.min(Math.max(0, this.start), max);
  };

  SignalViewer.prototype.resize = function () {
    var main = setupCanvas(this.canvas, 240);
    this.ctx = main.ctx; this.width = main.w; this.height = main.h;
    var ov = setupCanvas(this.overview, 44);
    this.octx = ov.ctx; this.owidth = ov.w; this.oheight = ov.h;
    this.clamp();
    this.draw();
    this.ensureData();
  };

  SignalViewer.prototype.bind = function () {
    var self = this;
    this.root.querySelectorAll("[data-act]").forEach(function (button) {
      button.addEventListener("click", function () { self.act(button.dataset.act); });
    });
    var gain = el(this.root, "[data-gain]");
    if (gain) gain.addEventListener("change", function () { self.gain = parseFloat(gain.value); self.draw(); });
    var lead = el(this.root, "[data-lead]");
    if (lead) lead.addEventListener("change", function () { self.chooseLead(lead.value); });
    this.canvas.addEventListener("keydown", function (e) { self.key(e); });
    var drag = null;
    this.canvas.addEventListener("pointerdown", function (e) {
      drag = { x: e.clientX, start: self.start, moved: false };
      self.canvas.setPointerCapture(e.pointerId);
    });
    this.canvas.addEventListener("pointermove", function (e) {
      if (!drag) return;
      var dx = e.clientX - drag.x;
      if (Math.abs(dx) > 3) drag.moved = true;
      if (drag.moved) { self.start = drag.start - dx / self.pxPerSample(); self.changed(); }
    });
    this.canvas.addEventListener("pointerup", function (e) {
      if (drag && !drag.moved) self.clickAt(e.clientX - self.canvas.getBoundingClientRect().left);
      drag = null;
    });
    this.canvas.addEventListener("wheel", function (e) {
      if (e.ctrlKey || e.metaKey) {
        e.preventDefault();
        self.zoomAt(e.deltaY < 0 ? 1 : -1, e.clientX - self.canvas.getBoundingClientRect().left);
      } else if (Math.abs(e.deltaX) > Math.abs(e.deltaY)) {
        e.preventDefault();
        self.start += e.deltaX / self.pxPerSample(); self.changed();
      }
    }, { passive: false });
    var overDrag = false;
    function jump(e) {
      var x = e.clientX - self.overview.getBoundingClientRect().left;
      self.start = x / self.owidth * self.samples - self.visible() / 2; self.changed();
    }
    this.overview.addEventListener("pointerdown", function (e) { overDrag = true; self.overview.setPointerCapture(e.pointerId); jump(e); });
    this.overview.addEventListener("pointermove", function (e) { if (overDrag) jump(e); });
    this.overview.addEventListener("pointerup", function () { overDrag = false; });
    if (window.ResizeObserver) {
      var last = 0;
      new ResizeObserver(function () {
        var w = Math.floor(self.canvas.clientWidth);
        if (w && w !== last) { last = w; self.resize(); }
      }).observe(this.canvas);
    }
  };

  SignalViewer.prototype.act = function (action) {
    var screen = this.visible();
    switch (action) {
      case "zoom-in": this.zoomAt(1, this.width / 2); break;
      case "zoom-out": this.zoomAt(-1, this.width / 2); break;
      case "left": this.start -= screen * 0.8; this.changed(); break;
      case "right": this.start += screen * 0.8; this.changed(); break;
      case "first": this.start = 0; this.changed(); break;
      case "last": this.start = this.samples; this.changed(); break;
      case "prev-beat": this.stepBeat(-1); break;
      case "next-beat": this.stepBeat(1); break;
      case "prev-abnormal": this.stepAbnormal(-1); break;
      case "next-abnormal": this.stepAbnormal(1); break;
      case "prev-event": this.stepEvent(-1); break;
      case "next-event": this.stepEvent(1); break;
      case "prev-diary": this.stepDiary(-1); break;
      case "next-diary": this.stepDiary(1); break;
    }
  };

  SignalViewer.prototype.key = function (e) {
    var screen = this.visible(), handled = true;
    if (e.key === "ArrowLeft") { this.start -= e.shiftKey ? screen * 0.8 : this.fs; this.changed(); }
    else if (e.key === "ArrowRight") { this.start += e.shiftKey ? screen * 0.8 : this.fs; this.changed(); }
    else if (e.key === "+" || e.key === "=") this.zoomAt(1, this.width / 2);
    else if (e.key === "-" || e.key === "_") this.zoomAt(-1, this.width / 2);
    else if (e.key === "Home") this.act("first");
    else if (e.key === "End") this.act("last");
    else if (e.key === "]" || e.key === "n") this.stepBeat(1);
    else if (e.key === "[" || e.key === "p") this.stepBeat(-1);
    else if (e.key === "}") this.stepAbnormal(1);
    else if (e.key === "{") this.stepAbnormal(-1);
    else if (e.key === ".") this.stepEvent(1);
    else if (e.key === ",") this.stepEvent(-1);
    else if ((e.key === "d" || e.key === "D") && !e.ctrlKey && !e.metaKey && !e.altKey) this.stepDiary(e.shiftKey ? -1 : 1);
    else handled = false;
    if (handled) e.preventDefault();
  };

  SignalViewer.prototype.zoomAt = function (direction, x) {
    var next = this.zoomIndex + direction;
    if (next < 0 || next >= SIGNAL_ZOOMS.length) return;
    var anchor = this.start + x / this.pxPerSample();
    this.zoomIndex = next;
    this.start = anchor - x / this.pxPerSample();
    this.changed();
  };

  SignalViewer.prototype.changed = function () {
    this.clamp();
    this.draw();
    this.ensureData();
  };

  SignalViewer.prototype.signalQuery = function (from, to, px) {
    return this.signalUrl + "?start=" + from + "&end=" + to + "&px=" + px +
      (this.lead ? "&lead=" + encodeURIComponent(this.lead) : "");
  };

  SignalViewer.prototype.chooseLead = function (name) {
    this.lead = name;
    this.cache = null;
    this.whole = null;
    this.root.dataset.lead = name;
    // the lead as the page writes it (the chosen option's text: a file's "avr" is aVR)
    var select = this.root.querySelector("select[data-lead]");
    var option = select && select.selectedOptions && select.selectedOptions[0];
    var shown = option && option.value === name ? option.textContent : name;
    var title = this.root.querySelector(".viewer-head h2");
    if (title) title.textContent = "ECG · lead " + shown;
    this.canvas.setAttribute("aria-label", "ECG trace of lead " + shown + " on standard ECG paper with beats marked by class");
    this.loadOverview();
    this.fetchWindow();
  };

  SignalViewer.prototype.ensureData = function () {
    var vis = this.visible(), s = this.start, e = Math.min(this.samples, s + vis);
    var spp = Math.max(1, 1 / this.pxPerSample());
    var c = this.cache;
    if (c && c.start <= Math.max(0, s) && c.end >= e - 1 && c.step <= 2 * spp) return;
    var self = this;
    clearTimeout(this.timer);
    this.timer = setTimeout(function () { self.fetchWindow(); }, 40);
  };

  SignalViewer.prototype.fetchWindow = function () {
    var vis = this.visible();
    var from = Math.max(0, Math.floor(this.start - vis)), to = Math.min(this.samples, Math.ceil(this.start + 2 * vis));
    var px = Math.ceil(this.width * (to - from) / vis);
    if (this.pending) this.pending.abort();
    var controller = window.AbortController ? new AbortController() : null;
    this.pending = controller;
    var self = this;
    this.root.setAttribute("aria-busy", "true");
    getJson(this.signalQuery(from, to, px), "the signal", { signal: controller && controller.signal })
      .then(function (data) {
        var n = data.min.length;
        data.end = data.start + data.step * n;
        self.cache = data;
        self.pending = null;
        self.root.setAttribute("aria-busy", "false");
        self.root.dataset.loaded = "true";
        self.draw();
        self.ensureData();
      })
      .catch(function (err) {
        if (err.name === "AbortError") return;
        if (self.pending === controller) self.pending = null;
        self.root.setAttribute("aria-busy", "false");
        showLoadError(self.info, err, "the signal");
      });
  };

  SignalViewer.prototype.loadOverview = function () {
    var self = this;
    var lead = this.lead;
    getJson(this.signalQuery(0, this.samples, Math.max(200, Math.min(2000, this.owidth))), "the whole recording")
      .then(function (data) {
        if (self.lead !== lead) return; // another lead was chosen meanwhile: its own overview follows
        self.whole = data;
        self.inMv = data.units === "mV";
        var mids = [];
        var maxs = data.max || data.min;
        for (var i = 0; i < data.min.length; i++) mids.push(data.min[i] === null ? null : (data.min[i] + maxs[i]) / 2);
        self.wholeMid = mids;
        if (!self.inMv) {
          // Units unknown: scale so the typical beat spans about 1.5 "mV" of paper. Spans are taken over
          // whole seconds (a short recording's overview buckets hold a few samples, not a beat).
          var group = Math.max(1, Math.round(self.fs / data.step)), spans = [];
          for (var g = 0; g < data.min.length; g += group) {
            var glo = Infinity, ghi = -Infinity;
            for (var k = g; k < Math.min(g + group, data.min.length); k++) {
              if (data.min[k] !== null) { glo = Math.min(glo, data.min[k]); ghi = Math.max(ghi, maxs[k]); }
            }
            if (ghi >= glo) spans.push(ghi - glo);
          }
          spans.sort(function (a, b) { return a - b; });
          var typical = spans[Math.floor(spans.length / 2)] || 1;
          self.unitScale = 1.5 / typical;
          var note = el(self.root, "[data-units-note]");
          if (note) note.hidden = false;
        }
        self.draw();
        if (self.pendingAbnormal) { var direction = self.pendingAbnormal; self.pendingAbnormal = null; self.stepAbnormal(direction); }
        if (self.pendingBeat) { var step = self.pendingBeat; self.pendingBeat = null; self.stepBeat(step); }
      })
      .catch(function (err) { showLoadError(self.info, err, "the whole recording"); });
  };

  SignalViewer.prototype.baseline = function () {
    // Median of the whole-record envelope around the view: steady while panning.
    if (!this.whole) return 0;
    var step = this.whole.step, mids = this.wholeMid;
    var a = Math.max(0, Math.floor((this.start - 5 * this.fs) / step));
    var b = Math.min(mids.length, Math.ceil((this.start + this.visible() + 5 * this.fs) / step));
    var part = mids.slice(a, Math.max(a + 1, b)).filter(function (v) { return v !== null; })
      .sort(function (x, y) { return x - y; });
    return part[Math.floor(part.length / 2)] || 0;
  };

  SignalViewer.prototype.draw = function () {
    if (!this.ctx) return;
    var ctx = this.ctx, w = this.width, h = this.height, pps = this.pxPerSample();
    // the boxes of the beat marks, event labels and diary labels drawn (the tests read them)
    this.drawn = { beats: [], events: [], diary: [] };
    var zoom = SIGNAL_ZOOMS[this.zoomIndex];
    var offsetMm = this.start / this.fs * MM_PER_S;
    drawGrid(ctx, w, h, PX_PER_MM * zoom, offsetMm);
    var mid = h * 0.55, gainPx = this.gain * PX_PER_MM * this.unitScale, base = this.baseline(), start = this.start;
    function y(v) { return mid - (v - base) * gainPx; }

    // Time labels on each second (or every 10 s / minute when zoomed out).
    var every = [1, 5, 10, 30, 60, 300].find(function (s) { return s * pps * this.fs >= 70; }, this) || 600;
    ctx.fillStyle = "#6b2b2b"; ctx.font = "11px system-ui, sans-serif"; ctx.textBaseline = "bottom";
    for (var t = Math.ceil(start / this.fs / every) * every; (t * this.fs - start) * pps < w; t += every) {
      ctx.fillText(clock(t), (t * this.fs - start) * pps + 3, h - 3);
    }

    var c = this.cache;
    if (c) {
      this.drawLost(ctx, c.lost, pps, w, h);
      this.drawNoise(ctx, c.noise, pps, w, h);
      ctx.strokeStyle = TRACE; ctx.lineWidth = 1.3; ctx.lineJoin = "round"; ctx.beginPath();
      var first = Math.max(0, Math.floor((start - c.start) / c.step) - 1);
      var last = Math.min(c.min.length, Math.ceil((start + this.visible() - c.start) / c.step) + 2);
      var pen = false; // a null value (a lead mostly lost, not bridged) lifts the pen
      for (var i = first; i < last; i++) {
        var x = (c.start + i * c.step - start) * pps;
        if (c.min[i] === null) { pen = false; continue; }
        if (c.max) {
          var xi = x + c.step * pps / 2;
          if (!pen) ctx.moveTo(xi, y(c.max[i]));
          ctx.lineTo(xi, y(c.max[i])); ctx.lineTo(xi, y(c.min[i]));
        } else if (!pen) ctx.moveTo(x, y(c.min[i]));
        else ctx.lineTo(x, y(c.min[i]));
        pen = true;
      }
      ctx.stroke();
      if (c.beats) this.drawBeats(ctx, c.beats, pps, w, h);
      else this.drawBeatCounts(ctx, c.beat_counts, pps, w, h);
      this.drawEvents(ctx, pps, w);
      this.drawDiary(ctx, pps, w, h);
    } else {
      ctx.fillStyle = "#4d5560"; ctx.font = "14px system-ui, sans-serif"; ctx.textBaseline = "middle";
      ctx.fillText("Loading the signal…", 16, h / 2);
    }
    this.drawOverview();
    var end = Math.min(this.samples, start + this.visible());
    var shown = clock(start / this.fs, true) + " – " + clock(end / this.fs, true) + " of " + clock(this.samples / this.fs);
    if (this.dayStart !== null) {
      shown = timeOfDay(this.dayStart + start / this.fs, true) + " – " + timeOfDay(this.dayStart + end / this.fs, true) +
        " (" + shown + " in)";
    }
    this.readout.textContent = shown;
    this.scale.textContent = (MM_PER_S * zoom).toFixed(zoom < 1 ? 2 : 0).replace(/\.?0+$/, "") + " mm/s · " +
      (this.inMv ? this.gain + " mm/mV" : "amplitude auto-scaled (units unknown)");
  };

  /* Where each band of the strip's top begins: the event labels' rows only once the recording has events (they
   * are reserved whether or not one is in view, so the beat letters keep their place while panning). */
  SignalViewer.prototype.bands = function () {
    var rows = this.events && this.events.length ? EVENT_ROWS : 0;
    var beats = rows ? EVENT_BAR + 2 + EVENT_ROW * rows + 3 : 3;
    return { eventRows: rows, beats: beats, notes: beats + 27 };
  };

  // Samples the file marks as lost: a grey band (the trace across it is the straight line the
  // analysis drew there); stretches the rhythm analysis left out as too noisy to read: an amber one
  // (the beats found there keep their classes; no rhythm event is taken from them). Each labelled
  // when there is room; the root says how many of each are in view.
  SignalViewer.prototype.drawLost = function (ctx, lost, pps, w, h) {
    this.root.dataset.lostShown = String(this.drawBands(ctx, lost, pps, w, h,
      { fill: "rgba(77, 85, 96, 0.22)", ink: "#3d4550", label: "No signal", room: 70, y: this.bands().notes }));
  };

  SignalViewer.prototype.drawNoise = function (ctx, noise, pps, w, h) {
    this.root.dataset.noiseShown = String(this.drawBands(ctx, noise, pps, w, h,
      { fill: "rgba(191, 120, 0, 0.16)", ink: "#6b4400", label: "Noise: no rhythm read here", room: 150, y: this.bands().notes + 16 }));
  };

  SignalViewer.prototype.drawBands = function (ctx, spans, pps, w, h, style) {
    var shown = 0;
    ctx.font = "12px system-ui, sans-serif"; ctx.textBaseline = "top";
    for (var i = 0; spans && i < spans.length; i++) {
      var x0 = (spans[i][0] - this.start) * pps, x1 = (spans[i][1] + 1 - this.start) * pps;
      if (x1 < 0 || x0 > w) continue;
      shown++;
      ctx.fillStyle = style.fill;
      ctx.fillRect(x0, 0, Math.max(2, x1 - x0), h);
      if (x1 - x0 >= style.room) {
        var lx = Math.max(x0, 0) + 4;
        ctx.fillStyle = "rgba(255, 255, 255, 0.85)";
        ctx.fillRect(lx - 2, style.y - 2, ctx.measureText(style.label).width + 4, 16);
        ctx.fillStyle = style.ink; ctx.fillText(style.label, lx, style.y);
      }
    }
    return shown;
  };

  SignalViewer.prototype.drawBeats = function (ctx, beats, pps, w, h) {
    if (!beats) return;
    var n = beats.index.length, start = this.start, spacing = w;
    if (n > 1) spacing = (beats.position[n - 1] - beats.position[0]) * pps / (n - 1);
    var letters = spacing >= 16, top = this.bands().beats, drawn = this.drawn.beats;
    var vf = vfEpisodes(this.events);
    ctx.textAlign = "center"; ctx.textBaseline = "top"; ctx.font = "bold 12px system-ui, sans-serif";
    for (var i = 0; i < n; i++) {
      var x = (beats.position[i] - start) * pps;
      if (x < -10 || x > w + 10) continue;
      var cls = beats["class"][i], colour = COLOURS[cls] || "#333", position = beats.position[i];
      if (beats.index[i] === this.selected) {
        ctx.fillStyle = "rgba(11, 92, 173, 0.14)";
        ctx.fillRect(x - Math.max(6, 0.3 * this.fs * pps), 0, 2 * Math.max(6, 0.3 * this.fs * pps), h);
      }
      if (inEpisode(vf, position, position)) {
        ctx.fillStyle = IN_VF;
        ctx.fillRect(x - 1, top + 5, 2, 8);
        drawn.push([x - 1, top + 5, x + 1, top + 13, "vf"]);
        continue;
      }
      ctx.fillStyle = colour;
      if (letters) {
        ctx.beginPath(); ctx.moveTo(x - 5, top + 15); ctx.lineTo(x + 5, top + 15); ctx.lineTo(x, top + 21); ctx.fill();
        ctx.fillText(cls, x, top);
        drawn.push([x - 5, top, x + 5, top + 21]);
      } else if (cls !== "N" || spacing >= 3) {
        ctx.fillRect(x - 1, cls === "N" ? top + 5 : top - 1, 2, cls === "N" ? 8 : 16);
        drawn.push([x - 1, top - 1, x + 1, top + 15]);
      }
    }
    ctx.textAlign = "start";
  };

  /* The beats of a window too dense to mark one by one (the answer's beat_counts: counts by class in its buckets,
   * more than two beats a pixel), as drawBeats draws them that dense: a tick per bucket holding a beat outside
   * class N, in the colour of its class (V over S over F over Q), grey inside VF/VFL. */
  var TICK_ORDER = ["Q", "F", "S", "V"];
  SignalViewer.prototype.drawBeatCounts = function (ctx, counts, pps, w, h) {
    if (!counts) return;
    var top = this.bands().beats, drawn = this.drawn.beats, start = this.start, vf = vfEpisodes(this.events);
    var n = 0;
    for (var k in counts.classes) n = Math.max(n, counts.classes[k].length);
    for (var i = 0; i < n; i++) {
      var from = counts.start + i * counts.step, x = (from + counts.step / 2 - start) * pps;
      if (x < -10 || x > w + 10) continue;
      var cls = null;
      TICK_ORDER.forEach(function (c) { if (counts.classes[c] && counts.classes[c][i]) cls = c; });
      if (cls === null) continue;
      var inVf = inEpisode(vf, from, from + counts.step);
      ctx.fillStyle = inVf ? IN_VF : COLOURS[cls];
      ctx.fillRect(x - 1, top - 1, 2, 16);
      drawn.push(inVf ? [x - 1, top + 5, x + 1, top + 13, "vf"] : [x - 1, top - 1, x + 1, top + 15]);
    }
  };

  function vfEpisodes(events) {
    return (events || []).filter(function (e) { return e.type === "vf"; });
  }

  /* Whether samples ``from``..``to`` lie inside one of the VF/VFL ``episodes``. */
  function inEpisode(episodes, from, to) {
    return episodes.some(function (e) { return e.start <= from && to <= e.end; });
  }

  /* Whether bucket ``i`` of beat_counts holds a beat of a class ``wanted`` takes. */
  function countsHave(counts, i, wanted) {
    for (var k in counts.classes) if (wanted(k) && counts.classes[k][i]) return true;
    return false;
  }

  SignalViewer.prototype.drawOverview = function () {
    var ctx = this.octx, w = this.owidth, h = this.oheight;
    if (!ctx) return;
    ctx.fillStyle = "#f4f6f8"; ctx.fillRect(0, 0, w, h);
    var d = this.whole;
    if (d) {
      var lo = Infinity, hi = -Infinity, maxs = d.max || d.min;
      for (var i = 0; i < d.min.length; i++) {
        if (d.min[i] !== null) { lo = Math.min(lo, d.min[i]); hi = Math.max(hi, maxs[i]); }
      }
      var span = hi - lo || 1, sx = w / this.samples;
      ctx.strokeStyle = "#7b8794"; ctx.lineWidth = 1; ctx.beginPath();
      for (i = 0; i < d.min.length; i++) {
        if (d.min[i] === null) continue; // lost samples of a lead mostly lost
        var x = (d.start + i * d.step) * sx;
        ctx.moveTo(x, 4 + (h - 14) * (1 - (maxs[i] - lo) / span));
        ctx.lineTo(x, 4 + (h - 14) * (1 - (d.min[i] - lo) / span) + 1);
      }
      ctx.stroke();
      // the strip's marks in little: a tick per beat (or bucket of beats) outside class N, grey inside VF/VFL
      var b = d.beats, counts = d.beat_counts, vf = vfEpisodes(this.events), drawn = this.drawn.overview = [];
      var tick = function (x, colour, inVf) {
        ctx.fillStyle = inVf ? IN_VF : colour;
        ctx.fillRect(x - 1, h - 9, 2, 9);
        drawn.push(inVf ? [x - 1, h - 9, x + 1, h, "vf"] : [x - 1, h - 9, x + 1, h]);
      };
      for (i = 0; b && i < b.index.length; i++) {
        if (b["class"][i] === "N") continue;
        tick(b.position[i] * sx, COLOURS[b["class"][i]] || "#333", inEpisode(vf, b.position[i], b.position[i]));
      }
      var buckets = 0;
      for (var k in counts && counts.classes) buckets = Math.max(buckets, counts.classes[k].length);
      for (i = 0; i < buckets; i++) {
        var cls = null, from = counts.start + i * counts.step;
        TICK_ORDER.forEach(function (c) { if (counts.classes[c] && counts.classes[c][i]) cls = c; });
        if (cls !== null) tick((from + counts.step / 2) * sx, COLOURS[cls], inEpisode(vf, from, from + counts.step));
      }
    }
    ctx.fillStyle = DIARY;
    for (var j = 0; this.diary && j < this.diary.length; j++) ctx.fillRect(this.diary[j].sample / this.samples * w - 1, 0, 2, 7);
    var vx = this.start / this.samples * w, vw = Math.max(3, this.visible() / this.samples * w);
    ctx.fillStyle = "rgba(11, 92, 173, 0.15)"; ctx.fillRect(vx, 0, vw, h);
    ctx.strokeStyle = "#0b5cad"; ctx.lineWidth = 2; ctx.strokeRect(vx + 1, 1, vw - 2, h - 2);
  };

  SignalViewer.prototype.clickAt = function (x) {
    var c = this.cache;
    if (!c || !c.beats) return;
    var pps = this.pxPerSample(), best = null, bestDist = 14;
    for (var i = 0; i < c.beats.index.length; i++) {
      var d = Math.abs((c.beats.position[i] - this.start) * pps - x);
      if (d < bestDist) { bestDist = d; best = c.beats.index[i]; }
    }
    if (best !== null) this.select(best, false);
  };

  /* Whether stepping beats goes on from the selected beat: only while it is in view. Once the view has
   * moved away from it (an event, the trend, Home / End, panning), stepping starts from the view. */
  SignalViewer.prototype.selectionInView = function () {
    if (this.selected === null) return false;
    var p = this.selectedPosition;
    if (p === null || p === undefined) return true; // a beat without a place: the neighbour is all there is
    return p >= this.start && p <= this.start + this.visible();
  };

  /* Where stepping from the view starts: the moment the view was sent to (an event's start, a trend
   * click: a fifth into the strip) while it stays there, else the middle of the view. */
  SignalViewer.prototype.viewFocus = function () {
    if (this.moment !== null && this.moment !== undefined && this.start === this.momentViewStart) return this.moment;
    return this.start + this.visible() / 2;
  };

  SignalViewer.prototype.stepBeat = function (direction) {
    var index;
    if (this.asked !== null) index = this.asked + direction;
    else if (this.selectionInView()) index = this.selected + direction;
    else {
      // The first beat at or after the view's focus (or the last at or before it, going back), from the
      // whole-record beat list of the overview, else from the window loaded if it reaches there.
      var from = this.viewFocus(), b = this.whole && this.whole.beats, c = this.cache;
      if (this.whole && !b) { // too many beats to come with the overview: looked for, a bucket at a time
        this.seekBeat(from, direction, function () { return true; }, function (p) {
          return direction > 0 ? p >= from : p <= from;
        });
        return;
      }
      if (!b && c && c.beats && c.beats.index.length && c.start <= from && c.end >= from) b = c.beats;
      if (!b) { this.pendingBeat = direction; return; } // run once the overview has loaded
      if (!b.index.length) {
        if (!(this.whole && this.whole.beats && this.whole.beats.index.length)) {
          this.info.textContent = "No heartbeat was found in this recording: there are no beats to step through.";
        }
        return;
      }
      var pos = b.position, pick = null;
      for (var i = 0; i < pos.length; i++) {
        if (direction > 0 && pos[i] >= from) { pick = i; break; }
        if (direction < 0 && pos[i] <= from) pick = i;
      }
      if (pick === null) pick = direction > 0 ? pos.length - 1 : 0;
      index = b.index[pick];
    }
    if (index < 0) return;
    this.select(index, true);
  };

  /* The next (or previous) beat not classed N, from the whole-record beat list of the overview: after
   * the selected beat while it is in view, else from the view's focus (a beat there counts). */
  SignalViewer.prototype.stepAbnormal = function (direction) {
    var b = this.whole && this.whole.beats;
    if (!this.whole) { this.pendingAbnormal = direction; return; } // run once the overview has loaded
    var fromSelected = this.selectionInView() && this.selectedPosition !== null && this.selectedPosition !== undefined;
    var from = fromSelected ? this.selectedPosition : this.viewFocus();
    function beyond(p) { return p === from ? !fromSelected : direction > 0 ? p > from : p < from; }
    if (!b) { // too many beats to come with the overview: looked for, a bucket at a time
      var self = this;
      this.seekBeat(from, direction, function (cls) { return cls !== "N"; }, beyond, function () {
        self.info.textContent = "No " + (direction > 0 ? "later" : "earlier") + " beat outside class N.";
      });
      return;
    }
    var i, found = null;
    if (direction > 0) {
      for (i = 0; i < b.index.length; i++) if (b["class"][i] !== "N" && beyond(b.position[i])) { found = i; break; }
    } else {
      for (i = b.index.length - 1; i >= 0; i--) if (b["class"][i] !== "N" && beyond(b.position[i])) { found = i; break; }
    }
    if (found === null) { this.info.textContent = "No " + (direction > 0 ? "later" : "earlier") + " beat outside class N."; return; }
    this.select(b.index[found], true);
  };

  /* The first beat (going back: the last) from sample ``from`` on of a class ``wanted`` takes at a position
   * ``beyond`` takes, selected, for a recording whose overview counts its beats (beat_counts) instead of listing
   * them: the overview's buckets holding such a beat are fetched one at a time, from the one of ``from`` on, each
   * few enough beats to come one by one. ``none`` is called when there is none. */
  SignalViewer.prototype.seekBeat = function (from, direction, wanted, beyond, none) {
    var counts = this.whole.beat_counts, self = this, lead = this.lead;
    if (!counts) { if (none) none(); return; }
    var n = 0;
    for (var k in counts.classes) n = Math.max(n, counts.classes[k].length);
    var i = Math.max(0, Math.min(n - 1, Math.floor((from - counts.start) / counts.step)));
    function next() {
      while (i >= 0 && i < n && !countsHave(counts, i, wanted)) i += direction;
      if (i < 0 || i >= n) { if (none) none(); return; }
      var first = counts.start + i * counts.step;
      getJson(self.signalQuery(first, first + counts.step, 2000), "the beats")
        .then(function (data) {
          if (self.lead !== lead) return;
          var b = data.beats, pick = null;
          for (var j = 0; b && j < b.index.length; j++) {
            if (!wanted(b["class"][j]) || !beyond(b.position[j])) continue;
            if (direction > 0) { pick = j; break; }
            pick = j;
          }
          if (pick !== null) { self.select(b.index[pick], true); return; }
          i += direction;
          next();
        })
        .catch(function (err) { showLoadError(self.info, err, "the beats"); });
    }
    next();
  };

  /* Rhythm events (GET data-rhythm-url): marked along the top of the strip, stepped through with
   * "Previous / Next event", and the target of the trend chart and the event list's "Show in viewer". The same
   * answer gives the patient's diary: each entry marked across the strip, stepped through with "Previous / Next
   * diary entry", and the target of its "Show in viewer" and of its mark on the trend chart. */
  SignalViewer.prototype.loadEvents = function () {
    var self = this;
    getJson(this.rhythmUrl, "the rhythm events")
      .then(function (data) {
        self.events = (data.events || []).slice().sort(function (a, b) { return a.start - b.start; });
        self.diary = (data.diary || []).slice().sort(function (a, b) { return a.sample - b.sample || a.id - b.id; });
        self.root.dataset.events = String(self.events.length);
        self.root.dataset.diary = String(self.diary.length);
        self.draw();
        if (self.pendingEventId) { var p = self.pendingEventId; self.pendingEventId = null; self.showEventById(p[0], p[1]); }
        else if (self.pendingEvent) { var d = self.pendingEvent; self.pendingEvent = null; self.stepEvent(d); }
        else if (self.pendingDiaryId) { var q = self.pendingDiaryId; self.pendingDiaryId = null; self.showDiaryById(q[0], q[1]); }
        else if (self.pendingDiary) { var e = self.pendingDiary; self.pendingDiary = null; self.stepDiary(e); }
      })
      .catch(function (err) {
        self.events = [];
        self.diary = [];
        showLoadError(self.info, err, "the rhythm events");
      });
  };

  SignalViewer.prototype.goTo = function (sample) {
    this.start = sample - this.visible() * 0.2; // the moment sits a fifth into the strip, with its lead-in visible
    this.root.dataset.position = String(Math.round(sample));
    this.changed();
    this.moment = sample; // where "Next beat" starts while the view stays here
    this.momentViewStart = this.start;
  };

  SignalViewer.prototype.stepEvent = function (direction) {
    var ev = this.events;
    if (!ev) { this.pendingEvent = direction; return; }
    // from the event shown, unless the view has moved since (panned, a trend click, Home / End): then from there,
    // where going on finds an event that begins on the screen, not yet shown (one from the recording's first
    // sample, as a strip in VF throughout has, is reached from the opening view)
    var shown = this.eventIndex !== null && this.start === this.eventViewStart;
    var from = shown ? ev[this.eventIndex].start : this.start + this.visible() * 0.2;
    var i, found = null;
    if (direction > 0) {
      var after = shown ? from : this.start;
      for (i = 0; i < ev.length; i++) if (shown ? ev[i].start > after : ev[i].start >= after) { found = i; break; }
    } else {
      for (i = ev.length - 1; i >= 0; i--) if (ev[i].start < from) { found = i; break; }
    }
    if (found === null) { this.info.textContent = "No " + (direction > 0 ? "later" : "earlier") + " rhythm event."; return; }
    this.showEvent(found);
  };

  SignalViewer.prototype.showEvent = function (i) {
    var e = this.events[i];
    this.eventIndex = i;
    this.root.dataset.event = String(e.id);
    this.diaryIndex = null;
    delete this.root.dataset.diaryEntry;
    this.goTo(e.start);
    this.eventViewStart = this.start;
    var parts = [moment(e.start / this.fs, this.dayStart)];
    if (e.end > e.start) parts.push(tenths((e.end - e.start) / this.fs) + " s");
    if (e.beats && !DURATION_ONLY[e.type]) parts.push(e.beats + " beats");
    if (e.rate_bpm && !DURATION_ONLY[e.type]) parts.push(e.rate_bpm + " bpm");
    var title = document.createElement("p"), strong = document.createElement("strong");
    title.className = "event-title";
    strong.textContent = "Event " + (i + 1) + " of " + this.events.length + ": " + e.label;
    title.appendChild(strong);
    title.appendChild(document.createTextNode(" · " + parts.join(" · ")));
    this.info.replaceChildren(title);
  };

  /* The event list's "Show in viewer": that event, as "Next event" shows it (its place, its
   * description and its mark); at its start alone while the events are still loading. */
  SignalViewer.prototype.showEventById = function (id, sample) {
    if (!this.events) { this.pendingEventId = [id, sample]; this.goTo(sample); return; } // shown once they load
    for (var i = 0; i < this.events.length; i++) if (String(this.events[i].id) === String(id)) { this.showEvent(i); return; }
    this.showMoment(sample);
  };

  /* A moment chosen outside the event list (the trend chart): no event is described any more. */
  SignalViewer.prototype.showMoment = function (sample) {
    this.eventIndex = null;
    delete this.root.dataset.event;
    this.diaryIndex = null;
    delete this.root.dataset.diaryEntry;
    this.goTo(sample);
    this.info.textContent = "Showing " + moment(Math.max(0, sample) / this.fs, this.dayStart) + ".";
  };

  /* Each event in view: a bar along the strip's top edge, its label in the band below the bar and above the beat
   * letters (this.bands()), on the paper's colour so a tall wave crossing the band does not hide it. */
  SignalViewer.prototype.drawEvents = function (ctx, pps, w) {
    if (!this.events) return;
    var start = this.start, end = start + this.visible(), band = this.bands();
    ctx.font = "bold 11px system-ui, sans-serif"; ctx.textBaseline = "top"; ctx.textAlign = "start";
    var rows = []; // per label row, where its last label ends: labels of overlapping events stack, not overprint
    for (var i = 0; i < this.events.length; i++) {
      var e = this.events[i];
      if (e.end < start || e.start > end) continue;
      var x0 = Math.max(0, (e.start - start) * pps), x1 = Math.min(w, Math.max((e.end - start) * pps, x0 + 3));
      ctx.fillStyle = EVENT_COLOURS[e.type] || "#4d5560";
      ctx.globalAlpha = i === this.eventIndex ? 0.9 : 0.55;
      ctx.fillRect(x0, 0, x1 - x0, EVENT_BAR);
      ctx.globalAlpha = 1;
      var row = 0;
      while (row < rows.length && rows[row] > x0) row++;
      if (row >= band.eventRows) continue; // the bar still marks the event (and "Next event" describes it)
      var width = ctx.measureText(e.label).width, y = EVENT_BAR + 2 + EVENT_ROW * row;
      rows[row] = x0 + width + 8;
      ctx.fillStyle = "rgba(255, 250, 250, 0.85)";
      ctx.fillRect(x0 + 1, y - 1, width + 2, EVENT_ROW - 1);
      ctx.fillStyle = EVENT_COLOURS[e.type] || "#4d5560";
      ctx.fillText(e.label, x0 + 2, y);
      this.drawn.events.push([x0 + 1, y - 1, x0 + width + 3, y + EVENT_ROW - 2]);
    }
  };

  /* The next (or previous) entry of the patient's diary: from the entry shown, unless the view has moved since, then
   * from the view's focus, as "Next event" steps. */
  SignalViewer.prototype.stepDiary = function (direction) {
    var diary = this.diary;
    if (!diary) { this.pendingDiary = direction; return; }
    if (!diary.length) { this.info.textContent = "The patient's diary has no entries."; return; }
    var shown = this.diaryIndex !== null && this.start === this.diaryViewStart;
    var from = shown ? diary[this.diaryIndex].sample : this.start + this.visible() * 0.2;
    var i, found = null;
    if (direction > 0) {
      for (i = 0; i < diary.length; i++) if (diary[i].sample > from || (shown && diary[i].sample === from && i > this.diaryIndex)) { found = i; break; }
    } else {
      for (i = diary.length - 1; i >= 0; i--) if (diary[i].sample < from || (shown && diary[i].sample === from && i < this.diaryIndex)) { found = i; break; }
    }
    if (found === null) { this.info.textContent = "No " + (direction > 0 ? "later" : "earlier") + " entry in the patient's diary."; return; }
    this.showDiary(found);
  };

  SignalViewer.prototype.showDiary = function (i) {
    var entry = this.diary[i];
    this.eventIndex = null;
    delete this.root.dataset.event;
    this.diaryIndex = i;
    this.root.dataset.diaryEntry = String(entry.id);
    this.goTo(entry.sample);
    this.diaryViewStart = this.start;
    var title = document.createElement("p"), strong = document.createElement("strong");
    title.className = "diary-title";
    strong.textContent = "Diary entry " + (i + 1) + " of " + this.diary.length + ": " + entry.said;
    title.appendChild(strong);
    title.appendChild(document.createTextNode(" · noted at " + moment(entry.sample / this.fs, this.dayStart)));
    this.info.replaceChildren(title);
  };

  /* The diary's "Show in viewer" and its mark on the trend: that entry, as "Next diary entry" shows it; at its
   * moment alone while the diary is still loading. */
  SignalViewer.prototype.showDiaryById = function (id, sample) {
    if (!this.diary) { this.pendingDiaryId = [id, sample]; this.goTo(sample); return; } // shown once it loads
    for (var i = 0; i < this.diary.length; i++) if (String(this.diary[i].id) === String(id)) { this.showDiary(i); return; }
    this.showMoment(sample);
  };

  /* Each diary entry in view: a dashed line across the strip and its symptom at the line's foot, on the paper's
   * colour, the label stacked a row up where it would run into another. The lines first, then the labels over them
   * (an entry's line never crosses its neighbour's label), the entry shown first: where a cluster leaves no row free
   * (zoomed far out), the others' lines still mark them and "Next diary entry" names them. */
  SignalViewer.prototype.drawDiary = function (ctx, pps, w, h) {
    if (!this.diary || !this.diary.length) return;
    var start = this.start, end = start + this.visible(), rows = [], shown = [], i, x;
    for (i = 0; i < this.diary.length; i++) {
      if (this.diary[i].sample < start || this.diary[i].sample > end) continue;
      x = Math.round((this.diary[i].sample - start) * pps) + 0.5;
      ctx.strokeStyle = DIARY; ctx.lineWidth = i === this.diaryIndex ? 2.5 : 1.5; ctx.setLineDash([6, 4]);
      ctx.beginPath(); ctx.moveTo(x, 0); ctx.lineTo(x, h - DIARY_FOOT + 2); ctx.stroke();
      shown[i === this.diaryIndex ? "unshift" : "push"]([i, x]);
    }
    ctx.setLineDash([]);
    ctx.font = "bold 12px system-ui, sans-serif"; ctx.textBaseline = "top"; ctx.textAlign = "start";
    function free(row, a, b) {
      return rows[row].every(function (span) { return b <= span[0] || a >= span[1]; });
    }
    for (var k = 0; k < shown.length; k++) {
      var entry = this.diary[shown[k][0]];
      x = shown[k][1];
      var width = ctx.measureText(entry.label).width, x0 = x + 3;
      if (x0 + width + 4 > w) x0 = Math.max(0, x - 3 - width - 4); // at the right edge: to the line's left
      var x1 = x0 + width + 4, row = 0;
      while (row < DIARY_ROWS && rows[row] && !free(row, x0 - 4, x1 + 4)) row++;
      if (row >= DIARY_ROWS) continue;
      (rows[row] = rows[row] || []).push([x0, x1]);
      var y = h - DIARY_FOOT - DIARY_ROW * (row + 1);
      ctx.fillStyle = "rgba(255, 250, 250, 0.9)";
      ctx.fillRect(x0, y - 1, width + 4, DIARY_ROW - 1);
      ctx.fillStyle = DIARY;
      ctx.fillText(entry.label, x0 + 2, y + 1);
      this.drawn.diary.push([x0, y - 1, x1, y + DIARY_ROW - 2, entry.id, x]);
    }
  };

  SignalViewer.prototype.select = function (index, centre) {
    var self = this;
    this.asked = index;
    getJson(this.beatUrl.replace("{i}", index), "beat " + (index + 1))
      .then(function (data) {
        if (self.asked !== index) return; // a later beat was asked for: its answer is the one shown
        self.asked = null;
        self.selected = data.index;
        self.selectedPosition = data.position;
        self.info.replaceChildren(describeBeat(data, self.fs, self.dayStart));
        showCorrectForm(self.root, data);
        self.root.dataset.selected = String(data.index);
        if (centre && data.position !== null) {
          var x = (data.position - self.start) * self.pxPerSample();
          if (x < self.width * 0.1 || x > self.width * 0.9) self.start = data.position - self.visible() / 2;
        }
        self.changed();
      })
      .catch(function (err) {
        if (self.asked !== index) return;
        self.asked = null;
        if (err.status === 404) self.info.textContent = "Beat " + (index + 1) + ": no such beat.";
        else showLoadError(self.info, err, "beat " + (index + 1));
      });
  };

  /* ---------------------------------------------------------------- one beat at a time */

  function BeatViewer(root) {
    this.root = root;
    this.canvas = el(root, "canvas.ecg");
    this.info = el(root, "[data-info]");
    this.readout = el(root, "[data-readout]");
    this.scale = el(root, "[data-scale]");
    this.beatUrl = root.dataset.beatUrl;
    this.count = parseInt(root.dataset.beats, 10);
    this.zoomIndex = BEAT_ZOOMS.indexOf(4);
    this.gain = 10;
    this.index = 0;
    this.data = null;
    this.bind();
    this.resize();
    // opened at a beat (?beat=: "Show in viewer", a correction made here): that beat, else the first
    var asked = root.dataset.select ? parseInt(root.dataset.select, 10) : 0;
    this.show(asked >= 0 && asked < this.count ? asked : 0);
  }

  BeatViewer.prototype.resize = function () {
    var c = setupCanvas(this.canvas, 240);
    this.ctx = c.ctx; this.width = c.w; this.height = c.h;
    this.draw();
  };

  BeatViewer.prototype.bind = function () {
    var self = this;
    this.root.querySelectorAll("[data-act]").forEach(function (button) {
      button.addEventListener("click", function () { self.act(button.dataset.act); });
    });
    var gain = el(this.root, "[data-gain]");
    if (gain) gain.addEventListener("change", function () { self.gain = parseFloat(gain.value); self.draw(); });
    var lead = el(this.root, "[data-lead]");
    if (lead) lead.addEventListener("change", function () { self.chooseLead(lead.value); });
    this.canvas.addEventListener("keydown", function (e) {
      var map = { ArrowLeft: "prev-beat", ArrowRight: "next-beat", "[": "prev-beat", "]": "next-beat", p: "prev-beat", n: "next-beat",
        "+": "zoom-in", "=": "zoom-in", "-": "zoom-out", Home: "first", End: "last" };
      if (map[e.key]) { e.preventDefault(); self.act(map[e.key]); }
    });
    if (window.ResizeObserver) new ResizeObserver(function () { self.resize(); }).observe(this.canvas);
  };

  BeatViewer.prototype.act = function (action) {
    if (action === "prev-beat" || action === "left") this.show(this.index - 1);
    else if (action === "next-beat" || action === "right") this.show(this.index + 1);
    else if (action === "first") this.show(0);
    else if (action === "last") this.show(this.count - 1);
    else if (action === "zoom-in" && this.zoomIndex < BEAT_ZOOMS.length - 1) { this.zoomIndex++; this.draw(); }
    else if (action === "zoom-out" && this.zoomIndex > 0) { this.zoomIndex--; this.draw(); }
  };

  BeatViewer.prototype.show = function (index) {
    if (index < 0 || index >= this.count) return;
    var self = this;
    getJson(this.beatUrl.replace("{i}", index), "beat " + (index + 1))
      .then(function (data) {
        self.index = data.index; self.data = data;
        self.info.replaceChildren(describeBeat(data, null));
        showCorrectForm(self.root, data);
        self.root.dataset.selected = String(data.index);
        self.root.dataset.loaded = "true";
        self.draw();
      })
      .catch(function (err) { showLoadError(self.info, err, "beat " + (index + 1)); });
  };

  BeatViewer.prototype.draw = function () {
    var ctx = this.ctx, w = this.width, h = this.height, zoom = BEAT_ZOOMS[this.zoomIndex];
    drawGrid(ctx, w, h, PX_PER_MM * zoom, -5);
    this.scale.textContent = MM_PER_S * zoom + " mm/s · amplitude scaled 0–1 (units unknown)";
    var d = this.data;
    if (!d || !d.values) {
      ctx.fillStyle = "#4d5560"; ctx.font = "14px system-ui, sans-serif";
      ctx.fillText(d ? "The model-input values of this beat are not stored." : "Loading…", 16, h / 2);
      return;
    }
    var pps = PX_PER_MM * MM_PER_S * zoom / d.fs, x0 = 5 * PX_PER_MM * zoom;
    var unitPx = 2.5 * this.gain * PX_PER_MM; // 1.0 model unit = 25 mm at gain 10
    var zero = h - 30;
    // The beat format zero-pads after the beat: draw the padding faintly so it is not read as signal.
    var end = d.values.length;
    while (end > 1 && d.values[end - 1] === 0) end--;
    function trace(from, to, colour, dash) {
      ctx.strokeStyle = colour; ctx.lineWidth = 1.5; ctx.lineJoin = "round"; ctx.setLineDash(dash); ctx.beginPath();
      for (var i = from; i < to; i++) {
        var x = x0 + i * pps, y = zero - d.values[i] * unitPx;
        if (i === from) ctx.moveTo(x, y); else ctx.lineTo(x, y);
      }
      ctx.stroke(); ctx.setLineDash([]);
    }
    trace(0, end, TRACE, []);
    if (end < d.values.length) {
      trace(end - 1, d.values.length, "#9aa3ad", [4, 4]);
      ctx.fillStyle = "#5b636d"; ctx.font = "11px system-ui, sans-serif"; ctx.textBaseline = "bottom";
      ctx.fillText("zero padding", x0 + (end + 2) * pps, zero - 4);
    }
    var colour = COLOURS[d["class"]] || "#333";
    ctx.fillStyle = colour; ctx.font = "bold 13px system-ui, sans-serif"; ctx.textBaseline = "top";
    ctx.fillText(d["class"] + " · " + (NAMES[d["class"]] || ""), x0, 4);
    this.readout.textContent = "Beat " + (this.index + 1) + " of " + this.count;
    el(this.root, '[data-act="prev-beat"]').disabled = this.index <= 0;
    el(this.root, '[data-act="next-beat"]').disabled = this.index >= this.count - 1;
  };

  function init() {
    document.querySelectorAll("[data-ecg-viewer]").forEach(function (root) {
      if (root.ecgViewer) return;
      root.ecgViewer = root.dataset.kind === "signal" ? new SignalViewer(root) : new BeatViewer(root);
    });
  }

  // A beat chosen elsewhere on the page (the beat table) is shown in the viewer too.
  document.addEventListener("click", function (e) {
    var trigger = e.target.closest && e.target.closest("[data-select-beat]");
    var root = document.querySelector("[data-ecg-viewer]");
    if (!trigger || !root || !root.ecgViewer) return;
    var index = parseInt(trigger.dataset.selectBeat, 10), viewer = root.ecgViewer;
    if (viewer instanceof SignalViewer) viewer.select(index, true); else viewer.show(index);
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
  document.addEventListener("htmx:load", init);
})();
