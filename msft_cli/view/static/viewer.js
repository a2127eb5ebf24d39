// msft view: the page. Plain JavaScript on one canvas, no dependencies.
//
// The server sends tiles of dBFS values (float32, one row per bin, COLUMNS columns; see
// msft_cli/view/tiles.py); the page colours them with the chosen map and dynamic range and
// places them on a time x log-frequency view. At zoom z a tile column spans 2**z frames of
// the top octave; the page asks for the zoom whose columns are at least as wide as a screen
// pixel, so the loudest frame of each pixel is still shown.
"use strict";

(() => {
  const TOKEN = new URLSearchParams(location.search).get("token") || "";
  const MARGIN = { left: 62, right: 10, top: 8, bottom: 30 };
  const MAX_TILES = 600;          // tiles kept in memory (each ~ bins x 256 floats)
  const MAX_REQUESTS = 6;         // tile requests in flight
  const NOTE_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"];

  const $ = (id) => document.getElementById(id);
  const canvas = $("view");
  const ctx = canvas.getContext("2d");

  const state = {
    files: [], file: null, fileIndex: 0,
    view: { t0: 0, t1: 1, y0: 0, y1: 1 },    // seconds; log2(Hz)
    zoom: 0, channel: "mix", axis: "hz", cmap: "magma", topDb: 0, rangeDb: 90,
    selection: null,                          // {t0, t1, f0, f1} in seconds and Hz
    play: null,                               // {audio, t0, t1, f_lo, f_hi}
    pointer: null,                            // {x, y} in canvas pixels
    tilesRequested: 0, tilesLoaded: 0,
  };

  // -- server ---------------------------------------------------------------------------
  function api(path, params) {
    const q = new URLSearchParams(params);
    q.set("token", TOKEN);
    return `${path}?${q}`;
  }

  function setStatus(text) { $("status").textContent = text; }

  // -- colour tables ----------------------------------------------------------------------
  const LUTS = {};
  for (const [name, hex] of Object.entries(MSFT_COLORMAPS)) {
    const lut = new Uint8Array(hex.length / 2);
    for (let i = 0; i < lut.length; i++) lut[i] = parseInt(hex.substr(2 * i, 2), 16);
    LUTS[name] = lut;
  }

  // -- geometry ----------------------------------------------------------------------------
  function plot() {
    const w = canvas.width, h = canvas.height, d = devicePixelRatio;   // canvas pixels
    return { x: MARGIN.left * d, y: MARGIN.top * d,
             w: Math.max(10, w - (MARGIN.left + MARGIN.right) * d),
             h: Math.max(10, h - (MARGIN.top + MARGIN.bottom) * d) };
  }
  const log2 = Math.log2;
  function fileExtent(f) {               // bins' outer edges on a log2(Hz) axis
    const half = 0.5 / f.bins_per_octave;
    return { y0: log2(f.frequencies[0]) - half,
             y1: log2(f.frequencies[f.frequencies.length - 1]) + half };
  }
  function timeToX(t) { const p = plot(), v = state.view; return p.x + (t - v.t0) / (v.t1 - v.t0) * p.w; }
  function xToTime(x) { const p = plot(), v = state.view; return v.t0 + (x - p.x) / p.w * (v.t1 - v.t0); }
  function yToLog(y) { const p = plot(), v = state.view; return v.y1 - (y - p.y) / p.h * (v.y1 - v.y0); }
  function logToY(l) { const p = plot(), v = state.view; return p.y + (v.y1 - l) / (v.y1 - v.y0) * p.h; }
  function tileSamples(z) { return state.file.columns * state.file.top_hop * 2 ** z; }
  function tileCount(z) { return Math.max(1, Math.ceil(state.file.n_samples / tileSamples(z))); }

  function chooseZoom() {
    const f = state.file, p = plot();
    const perPixel = (state.view.t1 - state.view.t0) * f.sr / p.w;   // samples per screen pixel
    const z = Math.ceil(log2(perPixel / f.top_hop) - 1e-6);
    return Math.min(f.max_zoom, Math.max(0, z));
  }

  function clampView() {
    const f = state.file, v = state.view, e = fileExtent(f);
    const minSpan = 8 * f.top_hop / f.sr;                 // a few top-octave frames
    const maxSpan = f.duration;
    let span = Math.min(maxSpan, Math.max(minSpan, v.t1 - v.t0));
    let t0 = Math.min(Math.max(0, v.t0), f.duration - span);
    v.t0 = t0; v.t1 = t0 + span;
    const fullY = e.y1 - e.y0;
    let ySpan = Math.min(fullY, Math.max(1 / f.bins_per_octave * 3, v.y1 - v.y0));
    let y0 = Math.min(Math.max(e.y0, v.y0), e.y1 - ySpan);
    v.y0 = y0; v.y1 = y0 + ySpan;
  }

  // -- tiles ---------------------------------------------------------------------------------
  const tiles = new Map();   // key -> {z, x, status, data, rows, cols, image, imageKey}
  const queue = [];
  let inFlight = 0;

  function tileKey(z, x) { return `${state.fileIndex}/${state.channel}/${z}/${x}`; }

  function getTile(z, x, request) {
    const key = tileKey(z, x);
    let t = tiles.get(key);
    if (t) {                                  // most recently used last
      tiles.delete(key); tiles.set(key, t);
      return t;
    }
    if (!request) return null;
    t = { z, x, key, status: "queued", file: state.fileIndex, channel: state.channel };
    tiles.set(key, t);
    queue.push(t);
    pump();
    while (tiles.size > MAX_TILES) {
      const oldest = tiles.keys().next().value;
      if (tiles.get(oldest).status === "loading") break;
      tiles.delete(oldest);
    }
    return t;
  }

  function pump() {
    while (inFlight < MAX_REQUESTS && queue.length) {
      const t = queue.pop();                  // newest first: what is on screen now
      if (!visibleTile(t)) { tiles.delete(t.key); continue; }
      t.status = "loading";
      inFlight++;
      state.tilesRequested++;
      fetch(api("/api/tile", { file: t.file, z: t.z, x: t.x, channel: t.channel }))
        .then((r) => {
          if (!r.ok) return r.text().then((m) => { throw new Error(m.trim()); });
          t.rows = +r.headers.get("X-Rows");
          t.cols = +r.headers.get("X-Columns");
          return r.arrayBuffer();
        })
        .then((buf) => { t.data = new Float32Array(buf); t.status = "ready"; state.tilesLoaded++; })
        .catch((err) => { t.status = "error"; setStatus(String(err.message || err)); })
        .finally(() => { inFlight--; pump(); schedule(); });
    }
  }

  function visibleTile(t) {
    if (t.file !== state.fileIndex || t.channel !== state.channel) return false;
    const s = tileSamples(t.z) / state.file.sr;
    return t.x * s < state.view.t1 && (t.x + 1) * s > state.view.t0 && t.z >= state.zoom;
  }

  function tileImage(t) {                     // the coloured tile, made once per colour setting
    const key = `${state.cmap}/${state.topDb}/${state.rangeDb}`;
    if (t.image && t.imageKey === key) return t.image;
    const lut = LUTS[state.cmap], rows = t.rows, cols = t.cols;
    const img = t.image || document.createElement("canvas");
    img.width = cols; img.height = rows;
    const c = img.getContext("2d");
    const out = c.createImageData(cols, rows);
    const px = out.data, lo = state.topDb - state.rangeDb, scale = 255 / state.rangeDb;
    for (let r = 0; r < rows; r++) {
      const dst = (rows - 1 - r) * cols * 4;  // row 0 is the lowest bin: bottom of the image
      for (let k = 0; k < cols; k++) {
        const v = t.data[r * cols + k], o = dst + 4 * k;
        if (v !== v) { px[o + 3] = 0; continue; }          // NaN: past the end of the file
        let i = Math.round((v - lo) * scale);
        i = i < 0 ? 0 : i > 255 ? 255 : i;
        px[o] = lut[3 * i]; px[o + 1] = lut[3 * i + 1]; px[o + 2] = lut[3 * i + 2]; px[o + 3] = 255;
      }
    }
    c.putImageData(out, 0, 0);
    t.image = img; t.imageKey = key;
    return img;
  }

  function drawTile(t) {
    const f = state.file, e = fileExtent(f), s = tileSamples(t.z) / f.sr;
    const x0 = timeToX(t.x * s), x1 = timeToX((t.x + 1) * s);
    const y0 = logToY(e.y1), y1 = logToY(e.y0);
    ctx.drawImage(tileImage(t), 0, 0, t.cols, t.rows, x0, y0, x1 - x0, y1 - y0);
  }

  function tileRange(z) {
    const s = tileSamples(z) / state.file.sr;
    const a = Math.max(0, Math.floor(state.view.t0 / s));
    const b = Math.min(tileCount(z) - 1, Math.floor((state.view.t1 - 1e-12) / s));
    return [a, b];
  }

  // -- drawing ---------------------------------------------------------------------------------
  let frame = 0;
  function schedule() { if (!frame) frame = requestAnimationFrame(draw); }

  function draw() {
    frame = 0;
    if (!state.file) return;
    const w = Math.round(canvas.clientWidth * devicePixelRatio);
    const h = Math.round(canvas.clientHeight * devicePixelRatio);
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
    clampView();
    state.zoom = chooseZoom();
    const p = plot();
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#111"; ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.save();
    ctx.beginPath(); ctx.rect(p.x, p.y, p.w, p.h); ctx.clip();
    ctx.fillStyle = "#000"; ctx.fillRect(p.x, p.y, p.w, p.h);
    ctx.imageSmoothingEnabled = false;
    const [a, b] = tileRange(state.zoom);
    const missing = [];
    let waiting = 0;
    for (let x = a; x <= b; x++) {
      const t = getTile(state.zoom, x, true);
      if (t.status !== "ready") { missing.push(x); waiting++; }
    }
    // what is missing: a coarser tile already here stands in, then the ones that are ready
    if (missing.length) {
      for (let z = state.file.max_zoom; z > state.zoom; z--) {
        const [ca, cb] = tileRange(z);
        for (let x = ca; x <= cb; x++) {
          const t = getTile(z, x, false);
          if (t && t.status === "ready") drawTile(t);
        }
      }
    }
    for (let x = a; x <= b; x++) {
      const t = getTile(state.zoom, x, false);
      if (t && t.status === "ready") drawTile(t);
    }
    drawSelection(p);
    drawPlayhead(p);
    ctx.restore();
    drawAxes(p);
    if (waiting && state.file.overview_ready) setStatus(`loading ${waiting} tile${waiting > 1 ? "s" : ""}\u2026`);
    else if (!state.play && /^loading/.test($("status").textContent)) setStatus(zoomText());
    updateReadout();
    if (state.play) schedule();               // the playhead moves
  }

  function zoomText() {
    const f = state.file, k = 2 ** state.zoom;
    return `zoom ${state.zoom}: ${k} top-octave frame${k > 1 ? "s" : ""} per column`;
  }

  function drawSelection(p) {
    const s = state.selection;
    if (!s) return;
    const x0 = timeToX(s.t0), x1 = timeToX(s.t1);
    const y0 = s.f1 ? logToY(log2(s.f1)) : p.y, y1 = s.f0 ? logToY(log2(s.f0)) : p.y + p.h;
    ctx.fillStyle = "rgba(120, 190, 255, 0.16)";
    ctx.fillRect(x0, y0, x1 - x0, y1 - y0);
    ctx.strokeStyle = "rgba(150, 210, 255, 0.9)"; ctx.lineWidth = 1;
    ctx.strokeRect(x0 + 0.5, y0 + 0.5, x1 - x0 - 1, y1 - y0 - 1);
  }

  function playheadTime() {
    const pl = state.play;
    if (!pl) return null;
    return pl.t0 + (pl.audio.currentTime || 0);
  }

  function drawPlayhead(p) {
    const t = playheadTime();
    if (t === null) return;
    const x = Math.round(timeToX(t)) + 0.5;
    ctx.strokeStyle = "#7CFC00"; ctx.lineWidth = 1.5;
    ctx.beginPath(); ctx.moveTo(x, p.y); ctx.lineTo(x, p.y + p.h); ctx.stroke();
  }

  function niceStep(span, most) {
    const steps = [1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5,
                   10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];
    for (const s of steps) if (span / s <= most) return s;
    return 7200;
  }

  function formatTime(t, step) {
    const decimals = step >= 1 ? 0 : Math.min(4, Math.ceil(-Math.log10(step) - 1e-9));
    const m = Math.floor(t / 60), s = t - 60 * m;
    let sec = s.toFixed(decimals);
    if (s < 10) sec = "0" + sec;
    return `${m}:${sec}`;
  }

  function noteName(midi) { return `${NOTE_NAMES[((midi % 12) + 12) % 12]}${Math.floor(midi / 12) - 1}`; }

  function hzLabel(f) {
    if (f >= 1000) return `${+(f / 1000).toPrecision(3)}k`;
    return `${+f.toPrecision(3)}`;
  }

  function frequencyTicks(lo, hi, most) {
    if (state.axis === "note") {
      const a4 = log2(state.file.tuning);
      const m0 = Math.ceil(12 * (lo - a4) + 69 - 1e-9), m1 = Math.floor(12 * (hi - a4) + 69 + 1e-9);
      for (const keep of [[0], [0, 7], [0, 4, 7, 9], [0, 2, 4, 5, 7, 9, 11], [...Array(12).keys()]]) {
        const ticks = [];
        for (let m = m0; m <= m1; m++) if (keep.includes(((m % 12) + 12) % 12)) ticks.push(m);
        if (ticks.length >= 5 || keep.length === 12) {
          let chosen = ticks;
          while (chosen.length > most) chosen = chosen.filter((_, i) => i % 2 === 0);
          return chosen.map((m) => [a4 + (m - 69) / 12, noteName(m)]);
        }
      }
    }
    const out = [];
    for (const mantissas of [[1, 2, 5], [1, 1.5, 2, 3, 4, 5, 6, 7, 8, 9],
      [...Array(90).keys()].map((i) => (10 + i) / 10)]) {
      out.length = 0;
      for (let e = Math.floor(lo * Math.LOG10E * Math.LN2) - 1; e <= Math.ceil(hi * Math.LOG10E * Math.LN2); e++) {
        for (const m of mantissas) {
          const f = m * 10 ** e, l = log2(f);
          if (l >= lo && l <= hi) out.push([l, hzLabel(f)]);
        }
      }
      if (out.length >= 5) break;
    }
    let chosen = out;
    while (chosen.length > most) chosen = chosen.filter((_, i) => i % 2 === 0);
    return chosen;
  }

  function drawAxes(p) {
    const dpr = devicePixelRatio;
    ctx.fillStyle = "#bbb"; ctx.strokeStyle = "#666"; ctx.lineWidth = 1;
    ctx.font = `${11 * dpr}px system-ui, sans-serif`;
    ctx.strokeRect(p.x - 0.5, p.y - 0.5, p.w + 1, p.h + 1);
    const v = state.view;
    const step = niceStep(v.t1 - v.t0, Math.max(2, p.w / (90 * dpr)));
    ctx.textAlign = "center"; ctx.textBaseline = "top";
    for (let t = Math.ceil(v.t0 / step - 1e-9) * step; t <= v.t1 + 1e-12; t += step) {
      const x = Math.round(timeToX(t)) + 0.5;
      ctx.beginPath(); ctx.moveTo(x, p.y + p.h); ctx.lineTo(x, p.y + p.h + 4 * dpr); ctx.stroke();
      ctx.fillText(formatTime(t, step), x, p.y + p.h + 6 * dpr);
    }
    ctx.textAlign = "right"; ctx.textBaseline = "middle";
    for (const [l, label] of frequencyTicks(v.y0, v.y1, Math.max(2, p.h / (24 * dpr)))) {
      const y = Math.round(logToY(l)) + 0.5;
      ctx.beginPath(); ctx.moveTo(p.x - 4 * dpr, y); ctx.lineTo(p.x, y); ctx.stroke();
      ctx.fillText(label, p.x - 6 * dpr, y);
    }
  }

  // -- readout -----------------------------------------------------------------------------
  function levelAt(t, k) {                    // dBFS of bin k at time t from the tiles here
    const f = state.file;
    for (let z = state.zoom; z <= f.max_zoom; z++) {
      const x = Math.floor(t * f.sr / tileSamples(z));
      const tile = getTile(z, x, false);
      if (tile && tile.status === "ready") {
        const col = Math.floor((t * f.sr - x * tileSamples(z)) / (f.top_hop * 2 ** z));
        if (col < 0 || col >= tile.cols) return null;
        return tile.data[k * tile.cols + col];
      }
    }
    return null;
  }

  function updateReadout() {
    const pt = state.pointer, p = plot(), f = state.file;
    const inside = pt && pt.x >= p.x && pt.x <= p.x + p.w && pt.y >= p.y && pt.y <= p.y + p.h;
    if (!inside) return;
    const t = xToTime(pt.x), l = yToLog(pt.y), hz = 2 ** l;
    const B = f.bins_per_octave;
    const k = Math.min(f.frequencies.length - 1, Math.max(0, Math.round((l - log2(f.frequencies[0])) * B)));
    const midi = 69 + 12 * log2(hz / f.tuning), m = Math.round(midi);
    const cents = Math.round(100 * (midi - m));
    $("ro-time").textContent = formatTime(t, 1e-4);
    $("ro-freq").textContent = `${hz.toFixed(hz < 100 ? 2 : 1)} Hz (bin ${f.frequencies[k].toFixed(2)} Hz)`;
    $("ro-note").textContent = `${noteName(m)} ${cents >= 0 ? "+" : "\u2212"}${Math.abs(cents)} cents`;
    const db = t >= 0 && t < f.duration ? levelAt(t, k) : null;
    $("ro-db").textContent = db === null || db !== db ? "\u2013"
      : db <= f.floor_db ? "silence" : `${db.toFixed(1)} dBFS`;
  }

  // -- view changes ----------------------------------------------------------------------------
  function zoomTime(factor, atX) {
    const v = state.view, t = atX === undefined ? (v.t0 + v.t1) / 2 : xToTime(atX);
    v.t0 = t - (t - v.t0) * factor; v.t1 = t + (v.t1 - t) * factor;
    schedule();
  }
  function zoomFreq(factor, atY) {
    const v = state.view, l = atY === undefined ? (v.y0 + v.y1) / 2 : yToLog(atY);
    v.y0 = l - (l - v.y0) * factor; v.y1 = l + (v.y1 - l) * factor;
    schedule();
  }
  function resetView() {
    const e = fileExtent(state.file);
    state.view = { t0: 0, t1: state.file.duration, y0: e.y0, y1: e.y1 };
    schedule();
  }

  function canvasPoint(e) {
    const r = canvas.getBoundingClientRect();
    return { x: (e.clientX - r.left) * devicePixelRatio, y: (e.clientY - r.top) * devicePixelRatio };
  }

  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    const pt = canvasPoint(e);
    const unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? 400 : 1;
    const dy = e.deltaY * unit, dx = e.deltaX * unit;
    if (e.shiftKey) zoomFreq(Math.exp(dy * 0.0015), pt.y);
    else {
      if (dy) zoomTime(Math.exp(dy * (e.ctrlKey ? 0.01 : 0.0015)), pt.x);   // ctrl: a pinch
      if (dx) { const v = state.view, d = dx / plot().w * (v.t1 - v.t0); v.t0 += d; v.t1 += d; schedule(); }
    }
  }, { passive: false });

  const pointers = new Map();
  let drag = null;
  canvas.addEventListener("pointerdown", (e) => {
    canvas.focus();
    canvas.setPointerCapture(e.pointerId);
    const pt = canvasPoint(e);
    pointers.set(e.pointerId, pt);
    if (pointers.size === 2) {                 // a pinch: time from the horizontal, frequency
      const [a, b] = [...pointers.values()];  // from the vertical distance
      drag = { pinch: true, dx: Math.abs(a.x - b.x), dy: Math.abs(a.y - b.y), view: { ...state.view },
                cx: (a.x + b.x) / 2, cy: (a.y + b.y) / 2 };
      return;
    }
    if (e.shiftKey) {
      const t = xToTime(pt.x), f = 2 ** yToLog(pt.y);
      drag = { select: true, t, f };
      state.selection = { t0: t, t1: t, f0: f, f1: f };
    } else {
      drag = { x: pt.x, y: pt.y, view: { ...state.view } };
    }
  });
  canvas.addEventListener("pointermove", (e) => {
    const pt = canvasPoint(e);
    state.pointer = pt;
    if (pointers.has(e.pointerId)) pointers.set(e.pointerId, pt);
    if (drag && drag.pinch && pointers.size === 2) {
      const [a, b] = [...pointers.values()];
      const v0 = drag.view, v = state.view;
      const cx = (a.x + b.x) / 2, cy = (a.y + b.y) / 2;
      const p = plot();
      if (drag.dx > 30) {                    // the time under the pinch's centre stays put
        const span = (v0.t1 - v0.t0) * drag.dx / Math.max(10, Math.abs(a.x - b.x));
        const t = v0.t0 + (drag.cx - p.x) / p.w * (v0.t1 - v0.t0);
        v.t0 = t - (cx - p.x) / p.w * span; v.t1 = v.t0 + span;
      }
      if (drag.dy > 30) {
        const span = (v0.y1 - v0.y0) * drag.dy / Math.max(10, Math.abs(a.y - b.y));
        const l = v0.y1 - (drag.cy - p.y) / p.h * (v0.y1 - v0.y0);
        v.y1 = l + (cy - p.y) / p.h * span; v.y0 = v.y1 - span;
      }
    } else if (drag && drag.select) {
      const t = xToTime(pt.x), f = 2 ** yToLog(pt.y);
      state.selection = { t0: Math.min(drag.t, t), t1: Math.max(drag.t, t),
                          f0: Math.min(drag.f, f), f1: Math.max(drag.f, f) };
    } else if (drag) {
      const p = plot(), v0 = drag.view;
      const dt = (pt.x - drag.x) / p.w * (v0.t1 - v0.t0), dl = (pt.y - drag.y) / p.h * (v0.y1 - v0.y0);
      state.view = { t0: v0.t0 - dt, t1: v0.t1 - dt, y0: v0.y0 + dl, y1: v0.y1 + dl };
    }
    schedule();
  });
  function endDrag(e) {
    pointers.delete(e.pointerId);
    if (drag && drag.select && state.selection) {
      const s = state.selection;
      if (timeToX(s.t1) - timeToX(s.t0) < 3) state.selection = null;   // a click clears it
      else {
        s.t0 = Math.max(0, s.t0); s.t1 = Math.min(state.file.duration, s.t1);
        const e2 = fileExtent(state.file);
        s.f0 = Math.max(2 ** e2.y0, s.f0); s.f1 = Math.min(2 ** e2.y1, s.f1);
      }
    }
    if (pointers.size === 0) drag = null;
    schedule();
  }
  canvas.addEventListener("pointerup", endDrag);
  canvas.addEventListener("pointercancel", endDrag);
  canvas.addEventListener("pointerleave", () => { state.pointer = null; });
  canvas.addEventListener("dblclick", (e) => { zoomTime(0.5, canvasPoint(e).x); });

  document.addEventListener("keydown", (e) => {
    if (e.target.tagName === "INPUT" || e.target.tagName === "SELECT") return;
    const v = state.view, span = v.t1 - v.t0;
    const keys = {
      "+": () => zoomTime(0.5), "=": () => zoomTime(0.5), "-": () => zoomTime(2),
      "ArrowLeft": () => { v.t0 -= span / 4; v.t1 -= span / 4; },
      "ArrowRight": () => { v.t0 += span / 4; v.t1 += span / 4; },
      "ArrowUp": () => zoomFreq(0.8), "ArrowDown": () => zoomFreq(1.25),
      "0": resetView, " ": () => (state.play ? stop() : play()),
      "Escape": () => { state.selection = null; },
    };
    if (keys[e.key]) { e.preventDefault(); keys[e.key](); schedule(); }
  });

  $("zoom-in").onclick = () => zoomTime(0.5);
  $("zoom-out").onclick = () => zoomTime(2);
  $("fzoom-in").onclick = () => zoomFreq(0.5);
  $("fzoom-out").onclick = () => zoomFreq(2);
  $("reset").onclick = resetView;
  $("axis").onchange = (e) => { state.axis = e.target.value; schedule(); };
  $("cmap").onchange = (e) => { state.cmap = e.target.value; schedule(); };
  $("top-db").oninput = (e) => { const v = parseFloat(e.target.value); if (isFinite(v)) { state.topDb = v; schedule(); } };
  $("range-db").oninput = (e) => {
    state.rangeDb = +e.target.value; $("range-val").textContent = `${state.rangeDb} dB`; schedule();
  };
  $("channel").onchange = (e) => {
    state.channel = e.target.value === "mix" ? "mix" : +e.target.value;
    schedule();
  };
  $("file").onchange = (e) => selectFile(+e.target.value);
  $("play").onclick = () => play();
  $("stop").onclick = () => stop();
  window.addEventListener("resize", schedule);

  // -- listening -----------------------------------------------------------------------------------
  function play() {
    stop();
    const f = state.file, s = state.selection;
    let t0 = s ? s.t0 : Math.max(0, state.view.t0), t1 = s ? s.t1 : Math.min(f.duration, state.view.t1);
    if (f.store === "magnitude" && t1 - t0 > f.max_magnitude_seconds) t1 = t0 + f.max_magnitude_seconds;
    const params = { file: state.fileIndex, start: t0.toFixed(6), end: t1.toFixed(6), channel: state.channel };
    if ($("solo").checked && s) { params.f_lo = s.f0.toFixed(3); params.f_hi = s.f1.toFixed(3); }
    const audio = new Audio(api("/api/audio", params));
    state.play = { audio, t0, t1 };
    $("play").classList.add("on");
    setStatus(f.store === "magnitude" ? "reconstructing phases\u2026" : "resynthesizing\u2026");
    audio.addEventListener("playing", () => {
      setStatus(`playing ${formatTime(t0, 0.001)} \u2013 ${formatTime(t1, 0.001)}` +
        (params.f_lo ? ` (${hzLabel(+params.f_lo)}\u2013${hzLabel(+params.f_hi)} Hz)` : ""));
    });
    audio.addEventListener("ended", () => { if (state.play && state.play.audio === audio) stop(); });
    audio.addEventListener("error", () => {
      if (state.play && state.play.audio === audio) { stop(); setStatus("playback failed"); }
    });
    audio.play().catch((err) => { if (state.play && state.play.audio === audio) { stop(); setStatus(`playback refused: ${err.message}`); } });
    schedule();
  }

  function stop() {
    const pl = state.play;
    state.play = null;
    $("play").classList.remove("on");
    if (pl) { pl.audio.pause(); pl.audio.removeAttribute("src"); pl.audio.load(); setStatus(zoomText()); }
    schedule();
  }

  // -- start ---------------------------------------------------------------------------------------
  function selectFile(i) {
    stop();
    state.fileIndex = i;
    state.file = state.files[i];
    state.selection = null;
    const ch = $("channel");
    ch.innerHTML = "";
    const names = state.file.n_channels === 2 ? ["left", "right"] : [];
    for (const [value, label] of [["mix", "mix"], ...[...Array(state.file.n_channels).keys()]
      .map((c) => [String(c), names[c] ? `${c} (${names[c]})` : String(c)])]) {
      ch.add(new Option(label, value));
    }
    state.channel = "mix";
    document.title = `${state.file.name} \u2013 msft view`;
    resetView();
  }

  for (const name of Object.keys(LUTS)) $("cmap").add(new Option(name, name));
  fetch(api("/api/files", {}))
    .then((r) => { if (!r.ok) throw new Error(`the server answered ${r.status}`); return r.json(); })
    .then((j) => {
      state.files = j.files;
      j.files.forEach((f, i) => $("file").add(new Option(f.name, String(i))));
      $("file").hidden = j.files.length < 2;
      selectFile(0);
      setStatus(zoomText());
      watchOverview();
    })
    .catch((err) => setStatus(`cannot load: ${err.message}`));

  // the server builds each file's overview (zoomed-out tiles wait for it) once, at start
  function watchOverview() {
    const f = state.file;
    if (!f || f.overview_ready) return;
    setStatus("building the overview (one pass over the file)\u2026");
    setTimeout(() => fetch(api("/api/files", {}))
      .then((r) => r.json())
      .then((j) => {
        j.files.forEach((g, i) => Object.assign(state.files[i], { overview_ready: g.overview_ready }));
        if (state.file.overview_ready) setStatus(zoomText());
        watchOverview();
      })
      .catch(() => {}), 1000);
  }

  // for scripts and tests: the state, and the view as numbers
  window.msftView = {
    state,
    setView(t0, t1) { state.view.t0 = t0; state.view.t1 = t1; schedule(); },
    playhead: playheadTime,
    point(t, hz) {                            // CSS pixels in the canvas of a time and frequency
      return { x: timeToX(t) / devicePixelRatio, y: logToY(log2(hz)) / devicePixelRatio };
    },
    tilesReady() {
      if (!state.file) return false;
      const [a, b] = tileRange(state.zoom);
      for (let x = a; x <= b; x++) {
        const t = getTile(state.zoom, x, false);
        if (!t || t.status !== "ready") return false;
      }
      return true;
    },
  };
})();
