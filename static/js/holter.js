/* The Holter panel: the heart-rate trend chart (min / mean / max per minute, events and the patient's diary
 * marked) drawn on <canvas> from GET data-rhythm-url, and the jumps from the chart, the event list and the
 * diary ([data-goto-sample]) to the ECG viewer. DOM building only, no framework. */
(function () {
  "use strict";

  // PAD_T: room above the 200 line for the axis' unit ("bpm", over the tick labels' column) and for the marks of
  // minutes whose rate goes past the top of the scale
  var TOP_BPM = 200, PAD_L = 38, PAD_R = 10, PAD_T = 24, PAD_B = 40;
  var OVER_COLOUR = "#a4161a";
  // steps between time ticks: minutes, or hours for a recording over three hours (in time of day, multiples of
  // them on the clock: diagnostics/holter.py TICK_MINUTES, TICK_HOURS)
  var MINUTE_STEPS = [1, 2, 5, 10, 15, 30, 60], HOUR_STEPS = [60, 120, 180, 240, 360, 720, 1440];
  var SEVERE = { vf: 1, asystole: 1, vt: 1 };
  var COLOURS = { vf: "#a4161a", asystole: "#a4161a", vt: "#a4161a", af: "#0b5cad", afl: "#0b5cad", pause: "#6a3d9a" };
  // The diary's marks (app.css --diary): a diamond just above the time axis, under the band's lowest rates, and a
  // dashed line up the chart; a click this close to one (CSS px) shows that entry rather than the minute's start.
  var DIARY = "#0b6e75", DIARY_ABOVE_AXIS = 8, DIARY_REACH = 6, DIARY_LINES_APART = 12;
  // The diary's sleep periods: shaded behind the chart (app.css svg.trend .sleep, the printed trend's), the rate at
  // night read against them.
  var SLEEP = "#e4e0f0";

  function viewer() {
    var root = document.querySelector("[data-ecg-viewer]");
    return root && root.ecgViewer && root.ecgViewer.goTo ? root.ecgViewer : null;
  }

  function showInViewer(sample, eventId, diaryId) {
    var v = viewer();
    if (!v) return;
    if (eventId) v.showEventById(eventId, sample);
    else if (diaryId && v.showDiaryById) v.showDiaryById(diaryId, sample);
    else v.showMoment(sample);
    v.root.scrollIntoView({ block: "center" });
    v.canvas.focus({ preventScroll: true });
  }

  // A note under the chart that its description includes (the chart itself is only pixels): ``kind`` names it (its
  // id's suffix and its class); put after the first of the notes ``after`` names that exists, if it is shown, else
  // right under the canvas; hidden, and null returned, where there is nothing to say (``shown`` false).
  function noteUnder(canvas, kind, shown, after) {
    if (!canvas.id) canvas.id = "hr-trend-" + Math.random().toString(36).slice(2, 8);
    var id = canvas.id + "-" + kind, note = document.getElementById(id);
    if (!shown) { if (note) note.hidden = true; return null; }
    if (!note) {
      note = document.createElement("p");
      note.id = id;
      note.className = "muted small trend-" + kind;
      var before = null;
      (after || []).some(function (k) { return (before = document.getElementById(canvas.id + "-" + k)); });
      (before && !before.hidden ? before : canvas).insertAdjacentElement("afterend", note);
      var described = (canvas.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean);
      if (described.indexOf(id) < 0) canvas.setAttribute("aria-describedby", described.concat([id]).join(" "));
    }
    note.hidden = false;
    return note;
  }

  // h:mm:ss, whole seconds cut (not rounded), as the event list writes times
  function clock(seconds) {
    seconds = Math.max(0, Math.floor(seconds + 1e-6));
    var h = Math.floor(seconds / 3600), m = Math.floor(seconds % 3600 / 60), s = seconds % 60;
    return h + ":" + (m < 10 ? "0" : "") + m + ":" + (s < 10 ? "0" : "") + s;
  }

  // The time of day, hh:mm:ss (past midnight, the next day's), of a moment ``seconds`` after midnight, cut.
  function timeOfDay(seconds) {
    var whole = ((Math.floor(seconds + 1e-6) % 86400) + 86400) % 86400;
    function two(n) { return (n < 10 ? "0" : "") + n; }
    return two(Math.floor(whole / 3600)) + ":" + two(Math.floor(whole / 60) % 60) + ":" + two(whole % 60);
  }

  // Where the file stated when the recording started, the seconds after midnight of its first sample; else null.
  function dayStart(data) {
    var start = data && data.start_of_day;
    return typeof start === "number" && isFinite(start) ? start : null;
  }

  // A moment ``seconds`` into the recording as the pages write it (diagnostics/holter.py at): the time of day first
  // where the start is known ("22:55:30 (0:05:30 in)"), the start's second plus the whole seconds into it; else the
  // time into the recording alone.
  function at(seconds, start) {
    if (start === null) return clock(seconds);
    var whole = Math.floor(Math.max(0, seconds) + 1e-6);
    return timeOfDay(Math.floor(start) + whole) + " (" + clock(whole) + " in)";
  }

  // A diary entry's moment as the diary on the page writes it: the time of day first where the recording's start is
  // known ("22:55:30 (0:05:30 in)"), so it is found on the patient's paper diary; else the time into the recording.
  function notedAt(entry, fs) {
    return entry.at || clock(entry.sample / fs);
  }

  function TrendChart(canvas) {
    this.canvas = canvas;
    this.data = null;
    this.cursor = null;
    var self = this;
    canvas.addEventListener("click", function (e) {
      var rect = canvas.getBoundingClientRect(), entry = self.diaryNear(e.clientX - rect.left);
      if (entry) { self.jumpToDiary(entry); return; }
      var minute = self.minuteAt(e.clientX - rect.left);
      if (minute !== null) self.jump(minute);
    });
    // the entry a pointer is on, named as a tooltip (the keyboard's cursor says it)
    canvas.addEventListener("mousemove", function (e) {
      var entry = self.diaryNear(e.clientX - canvas.getBoundingClientRect().left);
      if (entry) canvas.title = "Diary: " + entry.said + " at " + notedAt(entry, self.data.fs) + " (click to show it in the viewer)";
      else canvas.removeAttribute("title");
    });
    canvas.addEventListener("keydown", function (e) {
      if (!self.data || !self.data.trend || !self.data.trend.minute.length) return;
      var last = self.data.trend.minute.length - 1;
      if (e.key === "ArrowRight") self.cursor = Math.min(last, (self.cursor === null ? -1 : self.cursor) + 1);
      else if (e.key === "ArrowLeft") self.cursor = Math.max(0, (self.cursor === null ? 1 : self.cursor) - 1);
      else if (e.key === "Enter" && self.cursor !== null) {
        var noted = self.diaryIn(self.cursor);
        if (noted.length) self.jumpToDiary(noted[0]); else self.jump(self.cursor);
      }
      else return;
      e.preventDefault();
      self.draw();
      self.say();
    });
    if (window.ResizeObserver) new ResizeObserver(function () { self.draw(); }).observe(canvas);
    fetch(canvas.dataset.rhythmUrl, { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then(function (data) {
        self.data = data;
        canvas.dataset.diary = String((data.diary || []).length);
        canvas.dataset.sleep = String((data.sleep || []).length);
        canvas.dataset.loaded = "true";
        if (data.trend) { self.describeOver(); self.describeDiary(); self.describeSleep(); }
        self.draw();
      })
      .catch(function (err) { canvas.setAttribute("aria-label", "The heart-rate trend could not be loaded (" + err.message + ")."); });
  }

  // What the keyboard cursor points at, for screen readers (the chart itself is only pixels).
  TrendChart.prototype.say = function () {
    var live = document.getElementById(this.canvas.getAttribute("data-cursor-live") || "");
    if (!live || this.cursor === null || !this.data || !this.data.trend || !this.data.trend.minute.length) return;
    var t = this.data.trend, i = this.cursor, start = dayStart(this.data);
    // the minute by its clock times: "minute 19" of a chart whose axis starts at 0 read as the one from 0:19:00; by
    // the time of day, as the axis, where the start is known
    var text = "The minute from " + (start === null
      ? clock(i * 60) + " to " + clock((i + 1) * 60)
      : at(i * 60, start) + " to " + timeOfDay(Math.floor(start) + (i + 1) * 60)) + ": ";
    text += t.hr_mean[i] === null
      ? "no heart rate (no signal, noise or VF)."
      : Math.round(t.hr_min[i]) + " to " + Math.round(t.hr_max[i]) + " bpm" +
        (t.hr_max[i] > TOP_BPM ? " (above the chart's scale of " + TOP_BPM + ")" : "") +
        ", mean " + Math.round(t.hr_mean[i]) + ".";
    if (this.asleepIn(i)) text += " Asleep, as the diary gives it.";
    var noted = this.diaryIn(i), fs = this.data.fs;
    if (noted.length) {
      text += " Diary: " + noted.map(function (entry) { return entry.said + " at " + notedAt(entry, fs); }).join("; ") +
        ". Enter shows " + (noted.length === 1 ? "the entry" : "the first of them") + " in the viewer.";
    } else if (t.hr_mean[i] !== null) text += " Enter shows it in the viewer.";
    live.textContent = text;
  };

  // Whether the middle of minute ``i`` lies in one of the diary's sleep periods, as the Awake / Asleep table counts
  // it (ecg/rhythm/sleep.py minutes_in: the last minute's middle that of the part of it the recording holds).
  TrendChart.prototype.asleepIn = function (i) {
    var d = this.data, perMinute = 60 * d.fs, first = i * perMinute;
    var last = Math.min(first + perMinute, d.samples || first + perMinute) - 1, middle = (first + last) / 2;
    return (d.sleep || []).some(function (p) { return p.start <= middle && middle <= p.end; });
  };

  // The note on the shading under the chart, in its description, as the diary's.
  TrendChart.prototype.describeSleep = function () {
    var sleep = this.data.sleep || [], note = noteUnder(this.canvas, "sleep", sleep.length > 0, ["diary", "over"]);
    if (!note) return;
    var swatch = document.createElement("span");
    swatch.className = "sleep-swatch";
    swatch.setAttribute("aria-hidden", "true");
    note.replaceChildren(swatch, " Shaded: asleep, as the patient's diary gives it (" +
      sleep.map(function (p) { return p.said.replace(/^Asleep /, ""); }).join("; ") + ").");
  };

  // The diary's entries noted in minute ``i`` of the chart, in the order noted.
  TrendChart.prototype.diaryIn = function (i) {
    var perMinute = 60 * this.data.fs;
    return (this.data.diary || []).filter(function (entry) { return Math.floor(entry.sample / perMinute) === i; });
  };

  // The diary's entry marked nearest the chart's ``px`` (CSS px from its left edge), within DIARY_REACH, or null.
  TrendChart.prototype.diaryNear = function (px) {
    var best = null, bestDist = DIARY_REACH;
    (this.diaryMarks || []).forEach(function (mark) {
      var d = Math.abs(mark.x - px);
      if (d <= bestDist) { bestDist = d; best = mark.entry; }
    });
    return best;
  };

  TrendChart.prototype.jumpToDiary = function (entry) {
    this.cursor = Math.floor(entry.sample / (60 * this.data.fs));
    this.canvas.dataset.jumpedTo = String(entry.sample);
    this.draw();
    this.say();
    showInViewer(entry.sample, null, entry.id);
  };

  // The legend of the diary's marks, under the chart and in its description (as the note on rates past its top).
  TrendChart.prototype.describeDiary = function () {
    var diary = this.data.diary || [], note = noteUnder(this.canvas, "diary", diary.length > 0, ["over"]);
    if (!note) return;
    var mark = document.createElement("span");
    mark.setAttribute("aria-hidden", "true");
    mark.textContent = "◆ ";
    note.replaceChildren(mark, "The patient's diary: " + diary.length + (diary.length === 1 ? " symptom" : " symptoms") +
      " marked at the moments noted, above the time axis; the arrow keys' cursor names them in their minute, and a click on " +
      "a mark shows it in the ECG viewer.");
  };

  // The minutes whose maximum rate is past the top of the scale (drawn clipped there, with a mark above), said
  // in a note under the chart that the chart's description includes.
  TrendChart.prototype.over = function () {
    var t = this.data && this.data.trend, minutes = [];
    for (var i = 0; t && i < t.minute.length; i++) if (t.hr_max[i] !== null && t.hr_max[i] > TOP_BPM) minutes.push(i);
    return minutes;
  };

  TrendChart.prototype.describeOver = function () {
    var over = this.over(), t = this.data.trend, note = noteUnder(this.canvas, "over", over.length > 0, []);
    if (!note) return;
    var top = over[0];
    over.forEach(function (i) { if (t.hr_max[i] > t.hr_max[top]) top = i; });
    var mark = document.createElement("span");
    mark.setAttribute("aria-hidden", "true");
    mark.textContent = "▲ ";
    note.replaceChildren(mark, "Rates above " + TOP_BPM + " bpm over 4 beats, past the top of the chart, are marked at its top edge: " +
      over.length + (over.length === 1 ? " minute" : " minutes") + ", the highest " + Math.round(t.hr_max[top]) +
      " bpm in the minute from " + at(top * 60, dayStart(this.data)) + ".");
  };

  TrendChart.prototype.minutes = function () { return this.data && this.data.trend ? this.data.trend.minute.length : 0; };

  TrendChart.prototype.x = function (minute) {
    var n = Math.max(1, this.minutes());
    return PAD_L + (this.width - PAD_L - PAD_R) * minute / n;
  };

  TrendChart.prototype.y = function (bpm) {
    return PAD_T + (this.height - PAD_T - PAD_B) * (1 - Math.min(bpm, TOP_BPM) / TOP_BPM);
  };

  TrendChart.prototype.minuteAt = function (px) {
    var n = this.minutes();
    if (!n) return null;
    var m = (px - PAD_L) / (this.width - PAD_L - PAD_R) * n;
    return Math.max(0, Math.min(n - 0.001, m));
  };

  TrendChart.prototype.jump = function (minute) {
    var fs = this.data.fs;
    this.cursor = Math.floor(minute);
    this.canvas.dataset.jumpedTo = String(Math.round(minute * 60 * fs));
    this.draw();
    showInViewer(minute * 60 * fs);
  };

  TrendChart.prototype.draw = function () {
    var canvas = this.canvas, dpr = window.devicePixelRatio || 1;
    this.width = canvas.clientWidth; this.height = canvas.clientHeight;
    canvas.width = Math.round(this.width * dpr); canvas.height = Math.round(this.height * dpr);
    var ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, this.width, this.height);
    var d = this.data;
    ctx.font = "11px system-ui, sans-serif"; ctx.fillStyle = "#4d5560";
    if (!d || !d.trend) { ctx.fillText(d ? "No heart-rate trend for this recording." : "Loading…", PAD_L, this.height / 2); return; }
    var t = d.trend, n = t.minute.length, self = this;
    var labels = this.labels = []; // each text's box, for the tests: none overlaps another or leaves the canvas
    function label(text, x, y, align, baseline) {
      ctx.textAlign = align; ctx.textBaseline = baseline; ctx.fillText(text, x, y);
      var w = ctx.measureText(text).width, x0 = align === "right" ? x - w : align === "center" ? x - w / 2 : x;
      var y0 = baseline === "middle" ? y - 6 : y;
      labels.push({ text: text, x0: x0, x1: x0 + w, y0: y0, y1: y0 + 12 });
    }
    // Sleep first, behind everything (the night's rate is read against it), from the top line down to the axis.
    var sleepSpans = this.sleepSpans = []; // the spans drawn (the tests read them)
    ctx.fillStyle = SLEEP;
    (d.sleep || []).forEach(function (p) {
      var x0 = Math.max(PAD_L, self.x(p.start / (60 * d.fs))), x1 = Math.min(self.width - PAD_R, self.x(p.end / (60 * d.fs)));
      if (x1 <= x0) return;
      ctx.fillRect(x0, PAD_T, Math.max(1, x1 - x0), self.height - PAD_B - PAD_T);
      sleepSpans.push({ x0: x0, x1: x1, said: p.said });
    });
    ctx.fillStyle = "#4d5560";
    // Grid: 50 to 200 bpm, the unit above the scale, and time ticks as far apart as their labels need.
    ctx.strokeStyle = "#e2e6ea"; ctx.lineWidth = 1;
    [50, 100, 150, 200].forEach(function (b) {
      ctx.beginPath(); ctx.moveTo(PAD_L, self.y(b)); ctx.lineTo(self.width - PAD_R, self.y(b)); ctx.stroke();
      label(String(b), PAD_L - 4, self.y(b), "right", "middle");
    });
    label("bpm", PAD_L - 4, 2, "right", "top");
    // Time in minutes or hours into the recording; where its start is known, in time of day (the diary is noted so),
    // the ticks on whole multiples of the step on the clock (whole hours on a long recording).
    var start = dayStart(d), hours = n > 180, text = start === null
      ? function (m) { return hours ? (m / 60) + " h" : m + " min"; }
      : function (m) {
        // over a day the clock's times repeat: each midnight after the first day says which day (holter.clock_ticks)
        var whole = Math.round(start / 60 + m);
        if (n > 1440 && whole % 1440 === 0) return "Day " + (whole / 1440 + 1);
        return timeOfDay(whole * 60).slice(0, 5);
      };
    var room = ctx.measureText(start === null ? text(n) : "00:00").width + 14;
    var pxPerMinute = (this.width - PAD_L - PAD_R) / Math.max(1, n);
    var steps = hours ? HOUR_STEPS : MINUTE_STEPS, every = steps[steps.length - 1];
    for (var s = 0; s < steps.length; s++) if (steps[s] * pxPerMinute >= room) { every = steps[s]; break; }
    var ticks = [], first = start === null ? 0 : Math.ceil(start / 60 / every - 1e-9) * every - start / 60;
    for (var m = first; m <= n + 1e-9; m += every) {
      var w = ctx.measureText(text(m)).width;
      // inside the canvas: the last label ("24 h" at the right edge) ends at the edge rather than past it
      ticks.push({ m: m, x: Math.min(Math.max(this.x(m), w / 2 + 1), this.width - w / 2 - 1), w: w });
    }
    // the last label kept, and its neighbour dropped where pulling it inside brought them together
    var end = ticks.length - 1;
    if (end > 0 && ticks[end].x - ticks[end].w / 2 < ticks[end - 1].x + ticks[end - 1].w / 2 + 6) ticks.splice(end - 1, 1);
    ticks.forEach(function (tick) { label(text(tick.m), tick.x, self.height - PAD_B + 16, "center", "top"); });
    // The diary's dashed lines first, under the band and the mean (a symptom's rate is read across its line); where
    // the entries are crowded (a day's diary on a phone) their diamonds alone, the lines a curtain over the band.
    var perMinute = 60 * d.fs, axis = this.height - PAD_B, diaryMarks = this.diaryMarks = []; // the marks drawn (the tests read them)
    var diary = d.diary || [], lines = (this.width - PAD_L - PAD_R) / Math.max(1, diary.length) >= DIARY_LINES_APART;
    ctx.strokeStyle = DIARY; ctx.lineWidth = 1; ctx.setLineDash([3, 3]); ctx.globalAlpha = 0.6;
    diary.forEach(function (entry) {
      var x = self.x(entry.sample / perMinute);
      if (lines) { ctx.beginPath(); ctx.moveTo(x, PAD_T); ctx.lineTo(x, axis - DIARY_ABOVE_AXIS - 5); ctx.stroke(); }
      diaryMarks.push({ id: entry.id, x: x, y: axis - DIARY_ABOVE_AXIS, entry: entry });
    });
    ctx.setLineDash([]); ctx.globalAlpha = 1;
    // Band from the minute minimum to maximum, then the mean.
    // A minute without a rate (VF, no signal, noise) breaks both: one band per run of minutes with one.
    ctx.fillStyle = "rgba(11, 92, 173, 0.22)";
    var started = false, i, k, first = -1;
    for (i = 0; i <= n; i++) {
      var rated = i < n && t.hr_min[i] !== null && t.hr_max[i] !== null;
      if (rated && first < 0) first = i;
      if (rated || first < 0) continue;
      if (i - first > 1) {
        ctx.beginPath();
        for (k = first; k < i; k++) ctx[k === first ? "moveTo" : "lineTo"](this.x(k + 0.5), this.y(t.hr_max[k]));
        for (k = i - 1; k >= first; k--) ctx.lineTo(this.x(k + 0.5), this.y(t.hr_min[k]));
        ctx.closePath(); ctx.fill();
      }
      first = -1;
    }
    ctx.strokeStyle = "#084a8c"; ctx.lineWidth = 1.5; ctx.beginPath(); started = false;
    for (i = 0; i < n; i++) {
      if (t.hr_mean[i] === null) { started = false; continue; }
      ctx[started ? "lineTo" : "moveTo"](this.x(i + 0.5), this.y(t.hr_mean[i])); started = true;
    }
    ctx.stroke();
    // Past the top of the scale: the band is cut at 200 bpm; a mark above the line says the rate went further.
    ctx.fillStyle = OVER_COLOUR;
    this.over().forEach(function (i) {
      var x = self.x(i + 0.5);
      ctx.beginPath(); ctx.moveTo(x - 4, PAD_T - 2); ctx.lineTo(x + 4, PAD_T - 2); ctx.lineTo(x, PAD_T - 9); ctx.fill();
    });
    // A minute with no minute beside it (a recording under two minutes, or one between gaps) draws
    // nothing as a polygon or a line: its band and mean across the middle half of the minute.
    for (i = 0; i < n; i++) {
      if (t.hr_mean[i] === null) continue;
      if (!((i === 0 || t.hr_mean[i - 1] === null) && (i === n - 1 || t.hr_mean[i + 1] === null))) continue;
      var xa = this.x(i + 0.25), xb = this.x(i + 0.75);
      if (t.hr_min[i] !== null && t.hr_max[i] !== null) {
        ctx.fillStyle = "rgba(11, 92, 173, 0.22)";
        ctx.fillRect(xa, this.y(t.hr_max[i]), xb - xa, Math.max(1, this.y(t.hr_min[i]) - this.y(t.hr_max[i])));
      }
      ctx.strokeStyle = "#084a8c"; ctx.lineWidth = 2; ctx.beginPath();
      ctx.moveTo(xa, this.y(t.hr_mean[i])); ctx.lineTo(xb, this.y(t.hr_mean[i])); ctx.stroke();
    }
    // Events along the bottom: one row of ticks, the life-threatening ones taller.
    var base = this.height - PAD_B + 2;
    (d.events || []).forEach(function (e) {
      var x0 = self.x(e.start / perMinute), x1 = Math.max(x0 + 2, self.x(e.end / perMinute));
      ctx.fillStyle = COLOURS[e.type] || "#8a5a00";
      ctx.fillRect(x0, base, x1 - x0, SEVERE[e.type] ? 12 : 6);
    });
    // The diary's diamonds above the axis (the events' ticks are below it), white-edged where two touch.
    ctx.fillStyle = DIARY; ctx.strokeStyle = "#fff"; ctx.lineWidth = 1;
    diaryMarks.forEach(function (mark) {
      ctx.beginPath();
      ctx.moveTo(mark.x, mark.y - 5); ctx.lineTo(mark.x + 4, mark.y); ctx.lineTo(mark.x, mark.y + 5); ctx.lineTo(mark.x - 4, mark.y);
      ctx.closePath(); ctx.fill(); ctx.stroke();
    });
    if (this.cursor !== null) {
      ctx.strokeStyle = "#f0a202"; ctx.lineWidth = 2; ctx.beginPath();
      ctx.moveTo(this.x(this.cursor + 0.5), PAD_T); ctx.lineTo(this.x(this.cursor + 0.5), this.height - PAD_B); ctx.stroke();
      ctx.fillStyle = "#1b1f24"; ctx.textAlign = "left"; ctx.textBaseline = "top";
      var noted = this.diaryIn(this.cursor);
      var caption = (start === null ? clock(this.cursor * 60) : timeOfDay(Math.floor(start) + this.cursor * 60)) + (t.hr_mean[this.cursor] !== null ? " · " + t.hr_mean[this.cursor] + " bpm" : "") +
        (noted.length === 1 ? " · ◆ " + noted[0].label : noted.length ? " · ◆ " + noted.length + " diary entries" : "");
      var room = Math.max(0, this.width - ctx.measureText(caption).width - 4);
      ctx.fillText(caption, Math.max(PAD_L, Math.min(this.x(this.cursor + 0.5) + 4, room, this.width - 120)), PAD_T);
    }
  };

  function init() {
    document.querySelectorAll("canvas[data-hr-trend]").forEach(function (canvas) {
      if (!canvas.hrTrend) canvas.hrTrend = new TrendChart(canvas);
    });
  }

  document.addEventListener("click", function (e) {
    var trigger = e.target.closest && e.target.closest("[data-goto-sample]");
    if (trigger) showInViewer(parseInt(trigger.dataset.gotoSample, 10), trigger.dataset.eventId, trigger.dataset.diaryId);
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
