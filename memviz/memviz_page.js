"use strict";
/* memviz page: the active-memory timeline of each rank, drawn on canvas.
 * Every buffer is a band stacked in allocation order: when a buffer is
 * freed, the bands above it drop by its size (PyTorch memory_viz style).
 * Buffers under one pixel at full view are merged into one "small buffers"
 * band on top of the stack. Data comes from the JSON in #mv-data (written
 * by memviz/memviz_html.c); arrays are base64 typed arrays. */
(function () {
  const tStart = performance.now();
  const MV = JSON.parse(document.getElementById("mv-data").textContent);
  const PLOT_H = 300, PHASE_H = 20, AXIS_B = 30, TOP = 14, LEFT = 64, RIGHT = 12;
  const status = document.getElementById("status");

  function b64(s, Type) {
    if (!s) return new Type(0);
    const bin = atob(s), n = bin.length, u8 = new Uint8Array(n);
    for (let i = 0; i < n; i++) u8[i] = bin.charCodeAt(i);
    return new Type(u8.buffer);
  }
  function fmtBytes(b) {
    const u = ["B", "KiB", "MiB", "GiB", "TiB"];
    let v = b, i = 0;
    while (v >= 1024 && i < 4) { v /= 1024; i++; }
    return i === 0 ? b + " B" : v.toFixed(2) + " " + u[i];
  }
  function fmtNum(n) { return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ","); }
  function fmtUs(us) { return us >= 1000 ? (us / 1000).toFixed(3) + " ms" : us.toFixed(3) + " \u00b5s"; }
  function esc(s) { return String(s).replace(/[&<>"]/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;" })[c]); }

  /* Colour by producing node: the order in which a name first appears (run
   * by run, rank by rank: node spans in file order, then allocating nodes in
   * allocation order) picks one of 36 colours, so neighbouring nodes never
   * share one (the same rule as memviz_svg.c: page and picture agree). */
  const colourCache = new Map();
  const CSS = [], RGBA = new Uint32Array(36 + MV.cats.length);
  for (let k = 0; k < 36; k++) {
    const h = (k * 130) % 360, sat = (58 + (k % 3) * 10) / 100, l = (48 + (k % 4) * 6) / 100;
    CSS.push("hsl(" + h + "," + Math.round(sat * 100) + "%," + Math.round(l * 100) + "%)");
    const f = n => { const kk = (n + h / 30) % 12, a = sat * Math.min(l, 1 - l); return Math.round(255 * (l - a * Math.max(-1, Math.min(kk - 3, 9 - kk, 1)))); };
    RGBA[k] = (255 << 24 | f(4) << 16 | f(8) << 8 | f(0)) >>> 0;
  }
  /* --color category: the categories' fixed colours follow the 36 (the
   * SVG's, from memviz_category.c), one per category, weights never pooled. */
  const CAT = MV.color === "category";
  MV.cats.forEach((c, k) => {
    const v = parseInt(c.colour.slice(1), 16);
    CSS.push(c.colour);
    RGBA[36 + k] = (255 << 24 | (v & 255) << 16 | (v >> 8 & 255) << 8 | v >> 16) >>> 0;
  });
  let nextColour = 0;
  function colourIdx(name) {
    let c = colourCache.get(name);
    if (c !== undefined) return c;
    c = nextColour++ % 36;
    colourCache.set(name, c);
    return c;
  }
  function colour(name) { return CSS[colourIdx(name)]; }
  function lowerBound(arr, n, v) { let lo = 0, hi = n; while (lo < hi) { const m = (lo + hi) >> 1; if (arr[m] < v) lo = m + 1; else hi = m; } return lo; }
  function upperBound(arr, n, v) { let lo = 0, hi = n; while (lo < hi) { const m = (lo + hi) >> 1; if (arr[m] <= v) lo = m + 1; else hi = m; } return lo; }

  /* ---- decode --------------------------------------------------------------- */
  const U32 = Uint32Array, F64 = Float64Array;
  let yMax = 1;
  for (const run of MV.runs) {
    for (const R of run.ranks) {
      R.strs = run.strs;
      const BY = R.wide ? F64 : U32;
      R.a = b64(R.a, U32); R.f = b64(R.f, U32);
      R.by = b64(R.by, BY); R.rq = b64(R.rq, BY);
      R.t = b64(R.t, U32); R.sh = b64(R.sh, U32); R.dt = b64(R.dt, U32);
      R.an = b64(R.an, U32); R.fn = b64(R.fn, U32);
      R.cat = CAT ? b64(R.cat, Uint8Array) : null;
      R.ts = b64(R.ts, F64);
      R.sn = b64(R.sn, U32); R.so = b64(R.so, U32); R.sts = b64(R.sts, F64); R.sdur = b64(R.sdur, F64);
      if (R.peak > yMax) yMax = R.peak;
    }
  }
  for (const run of MV.runs) for (const R of run.ranks) {
    for (let q = 0; q < R.sn.length; q++) colourIdx(R.strs[R.sn[q]]);
    for (let q = 0; q < R.an.length; q++) colourIdx(R.strs[R.an[q]]);
  }
  const tDecoded = performance.now();
  /* One y scale for every rank of every run: comparisons need it. */
  yMax *= 1.08;
  const smallThresh = yMax / PLOT_H;

  /* ---- layout ----------------------------------------------------------------- */
  function layout(R) {
    const n = R.nb, E = R.ne, a = R.a, f = R.f, by = R.by;
    const eb = new U32(E);
    for (let i = 0; i < n; i++) { eb[a[i]] = i; if (f[i] < E) eb[f[i]] = i; }
    const big = new Uint8Array(n);
    let nSmall = 0, smallBytes = 0;
    for (let i = 0; i < n; i++) {
      if (by[i] >= smallThresh || (CAT && R.cat[i] === 0)) big[i] = 1; else { nSmall++; smallBytes += by[i]; }
    }
    const next = new Int32Array(n).fill(-1), prev = new Int32Array(n).fill(-1);
    let head = -1, tail = -1;
    const off = new F64(n);
    let cap = n * 2 + 16, ns = 0;
    let sK = new U32(cap), sY = new F64(cap), sN = new Int32Array(cap);
    const first = new Int32Array(n).fill(-1), last = new Int32Array(n).fill(-1);
    function push(i, k, y) {
      if (ns === cap) {
        cap *= 2;
        const k2 = new U32(cap); k2.set(sK); sK = k2;
        const y2 = new F64(cap); y2.set(sY); sY = y2;
        const n2 = new Int32Array(cap); n2.set(sN); sN = n2;
      }
      sK[ns] = k; sY[ns] = y; sN[ns] = -1;
      if (last[i] < 0) first[i] = ns; else sN[last[i]] = ns;
      last[i] = ns; ns++;
    }
    const bigTop = new F64(E), smallTot = new F64(E);
    let bt = 0, st = 0;
    for (let k = 0; k < E; k++) {
      const i = eb[k];
      if (a[i] === k) {
        if (big[i]) {
          off[i] = bt; push(i, k, bt); bt += by[i];
          prev[i] = tail; if (tail >= 0) next[tail] = i; else head = i; tail = i;
        } else st += by[i];
      } else if (big[i]) {
        const s = by[i];
        for (let j = next[i]; j >= 0; j = next[j]) { off[j] -= s; push(j, k, off[j]); }
        if (prev[i] >= 0) next[prev[i]] = next[i]; else head = next[i];
        if (next[i] >= 0) prev[next[i]] = prev[i]; else tail = prev[i];
        bt -= s;
      } else st -= by[i];
      bigTop[k] = bt; smallTot[k] = st;
    }
    /* Bytes allocated per node, for the legend. */
    const perNode = new Map();
    for (let i = 0; i < n; i++) perNode.set(R.an[i], (perNode.get(R.an[i]) || 0) + by[i]);
    /* Per category, the bytes live at the peak (the SVG's category legend). */
    const catAtPeak = new F64(MV.cats.length);
    for (let k = 0; CAT && k <= R.peakEv; k++) { const i = eb[k]; catAtPeak[R.cat[i]] += a[i] === k ? by[i] : -by[i]; }
    /* node spans as event ranges, for the event-order axis */
    const sk0 = new U32(R.ns), sk1 = new U32(R.ns);
    for (let s = 0; s < R.ns; s++) { sk0[s] = lowerBound(R.ts, E, R.sts[s]); sk1[s] = upperBound(R.ts, E, R.sts[s] + R.sdur[s]); }
    R.L = { sk0, sk1, big, nSmall, smallBytes, sK, sY, sN, first, bigTop, smallTot, bands: n - nSmall + (nSmall > 0 ? 1 : 0), perNode, catAtPeak };
  }

  let nBuffers = 0, nBands = 0, nSmallAll = 0, smallBytesAll = 0, nSmallBands = 0;
  for (const run of MV.runs) for (const R of run.ranks) {
    layout(R);
    nBuffers += R.nb; nBands += R.L.bands; nSmallAll += R.L.nSmall; smallBytesAll += R.L.smallBytes;
    if (R.L.nSmall > 0) nSmallBands++;
  }

  const tLaidOut = performance.now();
  /* ---- panels --------------------------------------------------------------------- */
  const pids = [];
  for (const run of MV.runs) for (const R of run.ranks) if (!pids.includes(R.pid)) pids.push(R.pid);
  pids.sort((x, y) => x - y);
  const rankSel = document.getElementById("rank"), xSel = document.getElementById("xaxis");
  /* A rank that stands for identical others (memviz_rows.c) says so. */
  const noteOf = p => { for (const run of MV.runs) for (const R of run.ranks) if (R.pid === p && R.note) return R.note; return ""; };
  for (const p of pids) { const o = document.createElement("option"); o.value = p; o.textContent = noteOf(p) || "rank " + p; rankSel.appendChild(o); }
  xSel.value = MV.x;
  const tip = document.getElementById("tip");
  let pinned = null; /* {panel, i} */

  const panels = MV.runs.map((run, ri) => {
    const div = document.createElement("div");
    div.className = "panel";
    div.innerHTML = "<h2><span class=name></span><span class=peak></span></h2><canvas></canvas><div class=legend></div><div class=note></div>";
    document.getElementById("panels").appendChild(div);
    div.querySelector(".name").textContent = run.label;
    return { run, ri, div, canvas: div.querySelector("canvas"), R: null, v0: 0, v1: 1, hover: -1, drawn: 0 };
  });

  function domain(P) {
    const R = P.R;
    if (xSel.value === "time" && R.ne > 0) {
      let lo = R.ts[0], hi = R.ts[R.ne - 1];
      for (let s = 0; s < R.ns; s++) { lo = Math.min(lo, R.sts[s]); hi = Math.max(hi, R.sts[s] + R.sdur[s]); }
      return [lo, hi > lo ? hi : lo + 1];
    }
    return [0, Math.max(1, R.ne)];
  }
  /* x position (domain units) of event boundary k; k === ne is the end. */
  function evX(P, k) {
    const R = P.R;
    if (xSel.value !== "time") return k;
    return k < R.ne ? R.ts[k] : P.d1;
  }
  function resetView(P) { if (!P.R) return; [P.d0, P.d1] = domain(P); P.v0 = P.d0; P.v1 = P.d1; }
  /* Zoom to the peak: the events around it (a twentieth of the run on each
   * side, at least 20), the same window as memviz_svg.c's --zoom peak. */
  function peakView(P) {
    resetView(P);
    const R = P.R;
    if (!R || R.peakEv < 0) return;
    const w = Math.max(20, Math.floor(R.ne / 20));
    const k0 = Math.max(0, R.peakEv - w), k1 = Math.min(R.ne, R.peakEv + w + 1);
    if (xSel.value === "time") { P.v0 = R.ts[k0]; P.v1 = Math.max(R.ts[k1 - 1], P.v0 + 1e-3); }
    else { P.v0 = k0; P.v1 = k1; }
  }
  function selectRank() {
    const pid = Number(rankSel.value);
    for (const P of panels) {
      P.R = P.run.ranks.find(R => R.pid === pid) || null;
      resetView(P);
      const R = P.R;
      P.div.querySelector(".name").textContent = P.run.label + (R && R.note ? " \u00b7 rank " + R.pid + " (" + R.note + ": one panel shown)" : "");
      P.div.querySelector(".peak").textContent = R ? "peak " + fmtBytes(R.peak) + " in " + (R.strs[R.peakNode] || "-") : "";
      const leg = P.div.querySelector(".legend"), note = P.div.querySelector(".note");
      leg.innerHTML = ""; note.textContent = "";
      if (!R) { note.textContent = "no rank " + pid + " in this run"; continue; }
      const top = [...R.L.perNode.entries()].sort((x, y) => y[1] - x[1]).slice(0, 10);
      let html = "";
      if (CAT) MV.cats.forEach((c, k) => { html += "<span title=\"" + R.L.catAtPeak[k] + " bytes live at the peak\"><span class=sw style=\"background:" + c.colour + "\"></span>" + esc(c.name) + " " + fmtBytes(R.L.catAtPeak[k]) + "</span>"; });
      else for (const [sid, b] of top) html += "<span title=\"" + b + " bytes\"><span class=sw style=\"background:" + colour(R.strs[sid]) + "\"></span>" + esc(R.strs[sid] || "-") + " " + fmtBytes(b) + "</span>";
      if (R.L.nSmall > 0) html += "<span><span class=sw style=\"background:#9aa\"></span>small buffers</span>";
      leg.innerHTML = html;
      note.textContent = fmtNum(R.nb) + " buffers, " + fmtNum(R.ne) + " events, " + fmtBytes(R.total) + " allocated in total. " +
        (R.L.nSmall > 0 ? fmtNum(R.L.nSmall) + " buffers under " + fmtBytes(Math.ceil(smallThresh)) + " (1 px at full view) are merged into one grey \"small buffers\" band (" + fmtBytes(R.L.smallBytes) + " allocated in total)." : "No buffer is under 1 px at full view: every buffer has its own band.");
    }
    draw();
  }

  /* Byte ticks fall on powers of two (256 KiB, 512 KiB, 1 MiB), never on
   * decimal steps that read as 488.28 KiB. */
  function niceStep(range, target) {
    return Math.pow(2, Math.ceil(Math.log2(Math.max(range / target, 1))));
  }

  function draw() {
    for (const P of panels) drawPanel(P);
    status.dataset.drawnBands = panels.reduce((s, P) => s + P.drawn, 0);
    /* The axis is canvas pixels: its labels go here too, for tests. */
    status.dataset.yTicks = (panels[0].yTicks || []).join(",");
    status.dataset.drawMs = panels.map(P => P.tdraw).join(" ");
  }

  function drawPanel(P) {
    const cv = P.canvas, dpr = window.devicePixelRatio || 1;
    const cssW = Math.max(300, cv.clientWidth || P.div.clientWidth - 12);
    const cssH = TOP + PLOT_H + 6 + PHASE_H + AXIS_B;
    cv.style.height = cssH + "px";
    if (cv.width !== Math.round(cssW * dpr) || cv.height !== Math.round(cssH * dpr)) { cv.width = Math.round(cssW * dpr); cv.height = Math.round(cssH * dpr); }
    const ctx = cv.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, cssW, cssH);
    P.W = cssW - LEFT - RIGHT;
    P.drawn = 0;
    P.yTicks = [];
    const R = P.R;
    if (!R) return;
    const W = P.W, v0 = P.v0, v1 = P.v1, sx = W / (v1 - v0);
    const X = x => LEFT + (x - v0) * sx;
    const Y = b => TOP + PLOT_H - b / yMax * PLOT_H;
    const yScale = PLOT_H / yMax;
    const L = R.L, E = R.ne, a = R.a, f = R.f, by = R.by;

    /* grid and y axis */
    ctx.font = "11px system-ui, sans-serif";
    ctx.strokeStyle = "#eee"; ctx.fillStyle = "#666"; ctx.lineWidth = 1;
    const step = niceStep(yMax, 6);
    ctx.textAlign = "right"; ctx.textBaseline = "middle";
    for (let b = 0; b <= yMax; b += step) {
      const y = Math.round(Y(b)) + 0.5;
      const label = fmtBytes(b).replace(".00 ", " ");
      ctx.beginPath(); ctx.moveTo(LEFT, y); ctx.lineTo(LEFT + W, y); ctx.stroke();
      ctx.fillText(label, LEFT - 4, y);
      P.yTicks.push(label);
    }

    ctx.save();
    ctx.beginPath(); ctx.rect(LEFT, TOP - 2, W, PLOT_H + 2); ctx.clip();
    const tb0 = performance.now();
    /* bands, one path per colour */
    /* Wide rects go into one path per colour; rects under a device pixel
     * (most of them at full view of a big trace) are written straight into
     * a pixel buffer: filling a million sub-pixel rects is what made the
     * first draw slow. */
    const paths = new Map();
    const sK = L.sK, sY = L.sY, sN = L.sN;
    const pw = Math.max(1, Math.round(W * dpr)), ph = Math.max(1, Math.round(PLOT_H * dpr));
    let img = null, pix = null;
    for (let i = 0; i < R.nb; i++) {
      if (!L.big[i]) continue;
      const xa = X(evX(P, a[i])), xf = X(evX(P, f[i]));
      P.drawn++;
      if (xf < LEFT || xa > LEFT + W) continue;
      const ci = CAT ? 36 + R.cat[i] : colourIdx(R.strs[R.an[i]]);
      const h = by[i] * yScale;
      for (let s = L.first[i]; s >= 0; s = sN[s]) {
        const ns = sN[s];
        const x0 = X(evX(P, sK[s])), x1 = ns >= 0 ? X(evX(P, sK[ns])) : xf;
        if (x1 < LEFT || x0 > LEFT + W) continue;
        const top = Y(sY[s]) - h;
        if ((x1 - x0) * dpr < 1) {
          if (!img) { img = ctx.createImageData(pw, ph); pix = new Uint32Array(img.data.buffer); }
          const px = Math.floor((x0 - LEFT) * dpr);
          if (px < 0 || px >= pw) continue;
          const r0 = Math.max(0, Math.floor((top - TOP) * dpr)), r1 = Math.min(ph, Math.ceil((top + h - TOP) * dpr));
          const rgba = RGBA[ci];
          for (let r = r0; r < r1; r++) pix[r * pw + px] = rgba;
        } else {
          let path = paths.get(ci);
          if (!path) { path = new Path2D(); paths.set(ci, path); }
          path.rect(x0, top, x1 - x0, h);
        }
      }
    }
    const tb1 = performance.now();
    if (img) {
      const off = document.createElement("canvas");
      off.width = pw; off.height = ph;
      off.getContext("2d").putImageData(img, 0, 0);
      ctx.drawImage(off, LEFT, TOP, W, PLOT_H);
    }
    for (const [ci, path] of paths) { ctx.fillStyle = CSS[ci]; ctx.fill(path); }
    const tb2 = performance.now();
    /* small buffers: one band on top of the stack, per-pixel envelope */
    if (L.nSmall > 0) {
      P.drawn++;
      ctx.fillStyle = "#9aa";
      const path = new Path2D();
      let k0 = 0, k1 = E;
      if (xSel.value === "time") { k0 = Math.max(0, upperBound(R.ts, E, v0) - 1); k1 = Math.min(E, upperBound(R.ts, E, v1) + 1); }
      else { k0 = Math.max(0, Math.floor(v0)); k1 = Math.min(E, Math.ceil(v1) + 1); }
      let col = -1e9, cx0 = 0, cTop = 0, cBot = 0, any = false;
      for (let k = k0; k < k1; k++) {
        const st = L.smallTot[k];
        const x0 = X(evX(P, k)), x1 = X(evX(P, k + 1));
        const c = Math.floor(x0);
        if (c !== col) {
          if (any) path.rect(cx0, Y(cTop), Math.max(x0 - cx0, 0.5), Y(cBot) - Y(cTop));
          col = c; cx0 = x0; cTop = -1; cBot = Infinity; any = false;
        }
        if (st > 0) { any = true; cTop = Math.max(cTop, L.bigTop[k] + st); cBot = Math.min(cBot, L.bigTop[k]); }
        if (k === k1 - 1 && any) path.rect(cx0, Y(cTop), Math.max(x1 - cx0, 0.5), Y(cBot) - Y(cTop));
      }
      ctx.fill(path);
    }
    const tb3 = performance.now();
    /* hovered / pinned outline */
    for (const [i, colr] of [[P.hover, "#000"], [pinned && pinned.P === P ? pinned.i : -1, "#c0392b"]]) {
      if (i < 0) continue;
      ctx.strokeStyle = colr; ctx.lineWidth = 1.5;
      const h = by[i] * yScale, xf = X(evX(P, f[i]));
      ctx.beginPath();
      for (let s = L.first[i]; s >= 0; s = sN[s]) {
        const ns = sN[s];
        const x0 = X(evX(P, sK[s])), x1 = ns >= 0 ? X(evX(P, sK[ns])) : xf;
        ctx.rect(x0, Y(sY[s]) - h, Math.max(x1 - x0, 1), h);
      }
      ctx.stroke();
    }
    ctx.restore();

    /* peak marker */
    if (R.peakEv >= 0) {
      const py = Math.round(Y(R.peak)) + 0.5, px = X(evX(P, R.peakEv));
      ctx.strokeStyle = "#c0392b"; ctx.setLineDash([5, 4]); ctx.lineWidth = 1;
      ctx.beginPath(); ctx.moveTo(LEFT, py); ctx.lineTo(LEFT + W, py); ctx.stroke(); ctx.setLineDash([]);
      if (px >= LEFT && px <= LEFT + W) {
        ctx.fillStyle = "#c0392b";
        ctx.beginPath(); ctx.moveTo(px, py); ctx.lineTo(px - 5, py - 8); ctx.lineTo(px + 5, py - 8); ctx.fill();
      }
      const label = "peak " + fmtBytes(R.peak) + " \u00b7 " + (R.strs[R.peakNode] || "-");
      ctx.font = "bold 11px system-ui, sans-serif"; ctx.textBaseline = "bottom";
      const tw = ctx.measureText(label).width;
      let lx = Math.min(Math.max(px + 8, LEFT + 2), LEFT + W - tw - 2);
      ctx.fillStyle = "#fffc"; ctx.fillRect(lx - 2, py - 14, tw + 4, 13);
      ctx.fillStyle = "#c0392b"; ctx.textAlign = "left"; ctx.fillText(label, lx, py - 1);
      ctx.font = "11px system-ui, sans-serif";
    }

    /* phases: node spans under the plot */
    const py0 = TOP + PLOT_H + 6;
    ctx.textBaseline = "middle"; ctx.textAlign = "left";
    P.spanX = [];
    const spanPaths = new Map(), labels = [];
    let lastCol = -1;
    for (let s = 0; s < R.ns; s++) {
      let x0, x1;
      if (xSel.value === "time") { x0 = X(R.sts[s]); x1 = X(R.sts[s] + R.sdur[s]); }
      else {
        const k0 = L.sk0[s], k1 = L.sk1[s];
        if (k1 <= k0) continue;
        x0 = X(k0); x1 = X(k1);
      }
      if (x1 < LEFT || x0 > LEFT + W) continue;
      x0 = Math.max(x0, LEFT); x1 = Math.min(x1, LEFT + W);
      /* Spans under a pixel: one per pixel column is all the eye can see. */
      if (x1 - x0 < 1) { const col = Math.floor(x0); if (col === lastCol) continue; lastCol = col; }
      const name = R.strs[R.sn[s]];
      const c = colour(name);
      let path = spanPaths.get(c);
      if (!path) { path = new Path2D(); spanPaths.set(c, path); }
      /* a 1 px gap between spans wide enough to show one */
      path.rect(x0, py0, Math.max(x1 - x0 - (x1 - x0 > 3 ? 1 : 0), 0.5), PHASE_H);
      P.spanX.push([x0, x1, s]);
      if (x1 - x0 > 24) labels.push([x0, x1, name]);
    }
    ctx.globalAlpha = 0.55;
    for (const [c, path] of spanPaths) { ctx.fillStyle = c; ctx.fill(path); }
    ctx.globalAlpha = 1;
    ctx.fillStyle = "#111";
    for (const [x0, x1, name] of labels) {
      const tw = ctx.measureText(name).width;
      if (tw + 6 < x1 - x0) ctx.fillText(name, x0 + 3, py0 + PHASE_H / 2);
    }
    const tb4 = performance.now();
    P.tdraw = [tb1 - tb0, tb2 - tb1, tb3 - tb2, tb4 - tb3].map(x => x.toFixed(0)).join("/");
    /* x axis */
    const ay = py0 + PHASE_H + 4;
    ctx.fillStyle = "#666"; ctx.textAlign = "center"; ctx.textBaseline = "top";
    /* Events are whole: zoomed in far, ticks stay one event apart (0 1 2,
     * not 0 0 1 1 rounded from halves), as in memviz_svg.c. */
    const xs = (() => { const raw = (v1 - v0) / 8, p = Math.pow(10, Math.floor(Math.log10(raw))); let s = raw; for (const m of [1, 2, 5, 10]) if (p * m >= raw) { s = p * m; break; } return xSel.value === "time" ? s : Math.max(1, s); })();
    for (let x = Math.ceil(v0 / xs) * xs; x <= v1; x += xs) {
      const px = X(x);
      if (px > LEFT + W - 24) continue; /* the label would be cut */
      ctx.fillRect(px, ay - 3, 1, 3);
      ctx.fillText(xSel.value === "time" ? (x / 1000).toFixed(xs >= 1000 ? 0 : 3) : fmtNum(Math.round(x)), px, ay);
    }
    ctx.textAlign = "right";
    ctx.fillText(xSel.value === "time" ? "time (ms)" : "event", LEFT + W, ay + 13);
    ctx.textAlign = "left";
    ctx.fillText("nodes", 4, py0 + 4);
  }

  /* ---- interaction ---------------------------------------------------------- */
  function eventAt(P, x) {
    const R = P.R, d = P.v0 + (x - LEFT) / P.W * (P.v1 - P.v0);
    if (xSel.value === "time") return upperBound(R.ts, R.ne, d) - 1;
    return Math.floor(d);
  }
  function bufferAt(P, x, y) {
    const R = P.R, L = R.L;
    const k = eventAt(P, x);
    if (k < 0 || k >= R.ne) return { k, i: -1 };
    const b = (TOP + PLOT_H - y) / PLOT_H * yMax;
    if (b < 0) return { k, i: -1 };
    if (b >= L.bigTop[k]) return { k, i: -1, small: b < L.bigTop[k] + L.smallTot[k] };
    for (let i = 0; i < R.nb; i++) {
      if (!L.big[i] || R.a[i] > k || R.f[i] <= k) continue;
      let y0 = 0;
      for (let s = L.first[i]; s >= 0 && L.sK[s] <= k; s = L.sN[s]) y0 = L.sY[s];
      if (b >= y0 && b < y0 + R.by[i]) return { k, i };
    }
    return { k, i: -1 };
  }
  function row(k, v) { return "<tr><td>" + k + "</td><td>" + v + "</td></tr>"; }
  function bufferHtml(R, i) {
    const s = R.strs, E = R.ne;
    const t0 = R.ts[R.a[i]], freed = R.f[i] < E, t1 = freed ? R.ts[R.f[i]] : R.ts[E - 1];
    return "<b>" + esc(s[R.t[i]] || "-") + "</b><table>" +
      row("shape", esc(s[R.sh[i]] || "-") + " " + esc(s[R.dt[i]] || "")) +
      row("bytes", fmtBytes(R.by[i]) + " (" + fmtNum(R.by[i]) + (R.rq[i] !== R.by[i] ? "; requested " + fmtNum(R.rq[i]) : "") + ")") +
      row("alloc node", esc(s[R.an[i]] || "-")) +
      row("free node", freed ? esc(s[R.fn[i]] || "-") : "(never freed)") +
      row("lifetime", fmtUs(t1 - t0) + ", events " + fmtNum(R.a[i]) + " \u2192 " + (freed ? fmtNum(R.f[i]) : "end")) + "</table>";
  }
  function showTip(html, ev, isPinned) {
    tip.innerHTML = html; tip.style.display = "block";
    tip.className = isPinned ? "pinned" : "";
    const w = tip.offsetWidth, h = tip.offsetHeight;
    tip.style.left = Math.min(ev.clientX + 14, window.innerWidth - w - 4) + "px";
    tip.style.top = Math.min(ev.clientY + 14, window.innerHeight - h - 4) + "px";
  }
  for (const P of panels) {
    const cv = P.canvas;
    let drag = null;
    const local = ev => { const r = cv.getBoundingClientRect(); return [ev.clientX - r.left, ev.clientY - r.top]; };
    cv.addEventListener("wheel", ev => {
      if (!P.R) return;
      ev.preventDefault();
      const [x] = local(ev);
      const at = P.v0 + (x - LEFT) / P.W * (P.v1 - P.v0);
      const z = Math.exp(ev.deltaY * 0.0015);
      let w = (P.v1 - P.v0) * z;
      w = Math.min(Math.max(w, xSel.value === "time" ? 1e-3 : 2), P.d1 - P.d0);
      let n0 = at - (at - P.v0) / (P.v1 - P.v0) * w;
      n0 = Math.min(Math.max(n0, P.d0), P.d1 - w);
      P.v0 = n0; P.v1 = n0 + w;
      drawPanel(P);
    }, { passive: false });
    cv.addEventListener("mousedown", ev => { const [x] = local(ev); drag = { x, v0: P.v0, v1: P.v1, moved: false }; });
    window.addEventListener("mouseup", () => { setTimeout(() => { drag = null; }, 0); });
    cv.addEventListener("mousemove", ev => {
      if (!P.R) return;
      const [x, y] = local(ev);
      if (drag && ev.buttons & 1) {
        const dx = (x - drag.x) / P.W * (drag.v1 - drag.v0);
        if (Math.abs(x - drag.x) > 3) drag.moved = true;
        const w = drag.v1 - drag.v0;
        const n0 = Math.min(Math.max(drag.v0 - dx, P.d0), P.d1 - w);
        P.v0 = n0; P.v1 = n0 + w;
        drawPanel(P);
        return;
      }
      if (pinned) return;
      const R = P.R;
      if (y > TOP + PLOT_H + 4 && y < TOP + PLOT_H + 6 + PHASE_H) {
        const hit = (P.spanX || []).find(([x0, x1]) => x >= x0 && x <= x1);
        if (hit) {
          const s = hit[2];
          showTip("<b>" + esc(R.strs[R.sn[s]]) + "</b><table>" + row("op", esc(R.strs[R.so[s]] || "-")) +
            row("start", fmtUs(R.sts[s])) + row("duration", fmtUs(R.sdur[s])) + "</table>", ev, false);
        } else tip.style.display = "none";
        if (P.hover >= 0) { P.hover = -1; drawPanel(P); }
        return;
      }
      const hit = bufferAt(P, x, y);
      if (hit.i !== P.hover) { P.hover = hit.i; drawPanel(P); }
      if (hit.i >= 0) showTip(bufferHtml(R, hit.i), ev, false);
      else if (hit.small) showTip("<b>small buffers</b><br>" + fmtNum(R.L.nSmall) + " buffers under " + fmtBytes(Math.ceil(smallThresh)) + " merged into this band; " + fmtBytes(R.L.smallTot[hit.k]) + " live here", ev, false);
      else tip.style.display = "none";
    });
    cv.addEventListener("mouseleave", () => { if (!pinned) { tip.style.display = "none"; if (P.hover >= 0) { P.hover = -1; drawPanel(P); } } });
    cv.addEventListener("click", ev => {
      if (drag && drag.moved) return;
      if (!P.R) return;
      const [x, y] = local(ev);
      const hit = bufferAt(P, x, y);
      const old = pinned;
      pinned = hit.i >= 0 && !(old && old.P === P && old.i === hit.i) ? { P, i: hit.i } : null;
      if (pinned) showTip(bufferHtml(P.R, hit.i) + "<div class=note>pinned: click again to release</div>", ev, true);
      else tip.style.display = "none";
      if (old && old.P !== P) drawPanel(old.P);
      drawPanel(P);
    });
    cv.addEventListener("dblclick", () => { resetView(P); drawPanel(P); });
  }
  rankSel.addEventListener("change", () => { pinned = null; tip.style.display = "none"; selectRank(); });
  xSel.addEventListener("change", () => { for (const P of panels) resetView(P); draw(); });
  document.getElementById("reset").addEventListener("click", () => { for (const P of panels) resetView(P); draw(); });
  document.getElementById("zoompeak").addEventListener("click", () => { for (const P of panels) peakView(P); draw(); });
  window.addEventListener("resize", draw);

  selectRank();
  if (MV.zoom === "peak") { for (const P of panels) peakView(P); draw(); }
  status.dataset.buffers = nBuffers;
  status.dataset.bands = nBands;
  status.dataset.small = nSmallAll;
  status.dataset.smallBytes = smallBytesAll;
  status.dataset.smallBands = nSmallBands;
  status.dataset.renderMs = (performance.now()).toFixed(1);
  /* where the time went: page load and parse, decode, layout, first draw */
  status.dataset.phasesMs = [tStart, tDecoded - tStart, tLaidOut - tDecoded, performance.now() - tLaidOut].map(x => x.toFixed(0)).join(" ");
  status.dataset.ready = "1";
  status.textContent = fmtNum(nBuffers) + " buffers in " + fmtNum(nBands) + " bands (" + fmtNum(nSmallAll) +
    " small buffers merged); first drawn " + status.dataset.renderMs + " ms after the page started loading.";

  /* #selftest: drive every interaction once with synthetic events, so a
   * headless test catches script errors outside the first draw.
   * #selftest&buffer=NAME also hovers the band of the first buffer of tensor
   * NAME (first rank, first run) and keeps the tooltip's rows in
   * data-selftest-tip: what a user reads, through the same hit test. */
  const hash = new URLSearchParams(location.hash.slice(1));
  if (hash.has("selftest")) {
    const P = panels[0], cv = P.canvas, r = cv.getBoundingClientRect();
    const at = (x, y) => ({ clientX: r.left + x, clientY: r.top + y, bubbles: true, buttons: 0 });
    const R = P.R;
    const steps = [];
    const want = hash.get("buffer");
    if (R && want !== null) {
      let i = 0;
      while (i < R.nb && R.strs[R.t[i]] !== want) i++;
      let tipRows = i === R.nb ? "no such buffer" : "small buffer: no band of its own";
      if (i < R.nb && R.L.big[i] && xSel.value === "events") {
        /* Zoom to the buffer's lifetime so its band spans the plot, then
         * point at the middle of it (mouse events carry whole pixels). */
        P.v0 = R.a[i]; P.v1 = R.f[i] < R.ne ? R.f[i] : R.ne;
        drawPanel(P);
        const k = Math.floor((P.v0 + P.v1) / 2);
        let y0 = 0;
        for (let s = R.L.first[i]; s >= 0 && R.L.sK[s] <= k; s = R.L.sN[s]) y0 = R.L.sY[s];
        const x = LEFT + (k + 0.5 - P.v0) / (P.v1 - P.v0) * P.W;
        const y = TOP + PLOT_H - (y0 + R.by[i] / 2) / yMax * PLOT_H;
        cv.dispatchEvent(new MouseEvent("mousemove", { clientX: Math.round(r.left + x), clientY: Math.round(r.top + y), bubbles: true, buttons: 0 }));
        tipRows = tip.style.display === "block" && P.hover === i
          ? [tip.querySelector("b").textContent].concat([...tip.querySelectorAll("tr")].map(tr => [...tr.cells].map(c => c.textContent).join(": "))).join("; ")
          : "hover missed the band";
        cv.dispatchEvent(new MouseEvent("mouseleave", at(0, 0)));
        resetView(P); drawPanel(P);
      }
      status.dataset.selftestTip = tipRows;
    }
    if (R && R.peakEv >= 0) {
      /* hover a buffer live at the peak: search whole client pixels (mouse
       * events carry integer coordinates) near the peak event */
      const px0 = LEFT + (R.peakEv + 0.5 - P.v0) / (P.v1 - P.v0) * P.W;
      let x = px0, y = TOP + PLOT_H - 1, found = false;
      for (let dx = -3; dx <= 3 && !found; dx++) {
        const cx = Math.round(r.left + px0) + dx;
        for (let cy = Math.round(r.top + TOP); cy < r.top + TOP + PLOT_H && !found; cy++) {
          if (bufferAt(P, cx - r.left, cy - r.top).i >= 0) { x = cx - r.left; y = cy - r.top; found = true; }
        }
      }
      cv.dispatchEvent(new MouseEvent("mousemove", at(x, y)));
      steps.push("hover:" + (tip.style.display === "block" && P.hover >= 0 ? "tip" : "none"));
      cv.dispatchEvent(new MouseEvent("click", at(x, y)));
      steps.push("pin:" + (pinned ? "yes" : "no"));
      cv.dispatchEvent(new MouseEvent("click", at(x, y)));
      steps.push("unpin:" + (pinned ? "no" : "yes"));
      cv.dispatchEvent(new MouseEvent("mousemove", at(x, TOP + PLOT_H + 6 + PHASE_H / 2)));
      cv.dispatchEvent(new WheelEvent("wheel", Object.assign(at(x, y), { deltaY: -500, cancelable: true })));
      steps.push("zoom:" + ((P.v1 - P.v0) < (P.d1 - P.d0) ? "yes" : "no"));
      cv.dispatchEvent(new MouseEvent("mousedown", at(x, y)));
      cv.dispatchEvent(new MouseEvent("mousemove", Object.assign(at(x + 40, y), { buttons: 1 })));
      window.dispatchEvent(new MouseEvent("mouseup", at(x + 40, y)));
      cv.dispatchEvent(new MouseEvent("dblclick", at(x, y)));
      steps.push("reset:" + (P.v0 === P.d0 && P.v1 === P.d1 ? "yes" : "no"));
    }
    xSel.value = "time"; xSel.dispatchEvent(new Event("change"));
    if (rankSel.options.length > 1) { rankSel.selectedIndex = 1; rankSel.dispatchEvent(new Event("change")); }
    xSel.value = "events"; xSel.dispatchEvent(new Event("change"));
    steps.push("drawn:" + status.dataset.drawnBands);
    status.dataset.selftest = steps.join(" ");
  }
})();
