// The Training playground's views and loss plots (gen/ui/playground_tab.py): Gradio 6 runs this as each gr.HTML's
// js_on_load. props.value is a JSON string, {"panels": [...]} (a view) or {"charts": [...]} (loss plots), in the
// format that gen/toy/views/frames.py documents: the server sends numbers, this draws them on <canvas> elements.
// While playing, a message is a film, {"frames": [view, ...], "fps": f, "play": n}: its frames are queued and
// painted f a second (requestAnimationFrame), catching up after a stall. A single view (a step, a setting, Reset)
// is painted at once and empties the queue (a Play goes on painting its later films: it trains on, e.g. at the new
// learning rate); Pause ('pg-stop') empties it too and ignores later films of that Play.
const root = element.querySelector('.pg');
const ratio = Math.max(1, Math.min(2, window.devicePixelRatio || 1));
let latest = null, pending = false;
const queue = []; let fps = 15, next = 0, ticking = false, playing = null; const stopped = new Set();

// colour key in [0, 1) -> css colour around the wheel (saturation .75, value .8), as gen/toy/views/drawing.hue
const hue = (k) => `hsl(${Math.round(k * 360)},${60}%,${50}%)`;

const figureAt = (i, cls) => {
  while (root.children.length <= i) {
    const f = document.createElement('figure');
    f.className = cls;
    f.innerHTML = '<canvas></canvas><div class="pg-legend"></div>';
    root.appendChild(f);
  }
  return root.children[i];
};

const sized = (canvas, w, h) => {
  if (canvas.width !== Math.round(w * ratio) || canvas.height !== Math.round(h * ratio)) {
    canvas.width = Math.round(w * ratio); canvas.height = Math.round(h * ratio);
    canvas.style.width = `${w}px`;
  }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  return ctx;
};

const legendHtml = (items) => (items || []).map(([kind, colour, text]) => {
  const mark = {
    dot: `<span style="color:${colour};font-size:1.25em">●</span>`,
    arrow: `<span style="color:${colour};font-weight:700">➜</span>`,
    ring: `<span style="color:${colour};font-size:1.2em">◯</span>`,
    bar: `<span class="pg-bar" style="background:${colour}"></span>`,
  }[kind] || '';
  return `<span>${mark} ${text}</span>`;
}).join('');

const heatCanvas = document.createElement('canvas');
const drawHeat = (ctx, L, w, h) => {
  const n = L.n, bytes = atob(L.heat);
  heatCanvas.width = n; heatCanvas.height = n;
  const hc = heatCanvas.getContext('2d'), img = hc.createImageData(n, n);
  for (let i = 0; i < n * n; i++) {
    const p = bytes.charCodeAt(i) / 255, to = p >= 0.5 ? L.hi : L.lo, a = Math.abs(2 * p - 1);
    for (let c = 0; c < 3; c++) img.data[4 * i + c] = L.mid[c] + (to[c] - L.mid[c]) * a;
    img.data[4 * i + 3] = 255;
  }
  hc.putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(heatCanvas, 0, 0, w, h);
};

const drawPanel = (ctx, P) => {
  const { w, h, r } = P;
  const X = (x) => (x + r) / (2 * r) * w, Y = (y) => (r - y) / (2 * r) * h;
  ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, w, h);
  const heat = P.layers.find((L) => L.heat);
  if (heat) drawHeat(ctx, heat, w, h);
  ctx.lineWidth = 1;
  for (let v = -Math.floor(r); v <= Math.floor(r); v++) {  // a light grid at every unit, the axes darker
    ctx.strokeStyle = v === 0 ? '#aaa' : '#e4e4e4';
    ctx.beginPath(); ctx.moveTo(X(v), 0); ctx.lineTo(X(v), h); ctx.moveTo(0, Y(v)); ctx.lineTo(w, Y(v)); ctx.stroke();
  }
  for (const L of P.layers) {
    if (L.dots) {
      const d = L.dots, s = L.size;
      if (!L.hue) { ctx.fillStyle = L.color; ctx.beginPath(); }
      for (let i = 0; i < d.length; i += 2) {
        if (L.hue) { ctx.fillStyle = hue(L.hue[i / 2]); ctx.beginPath(); }
        ctx.moveTo(X(d[i]) + s, Y(d[i + 1]));
        ctx.arc(X(d[i]), Y(d[i + 1]), s, 0, 2 * Math.PI);
        if (L.hue) ctx.fill();
      }
      if (!L.hue) ctx.fill();
    } else if (L.arrows) {
      const a = L.arrows;
      ctx.strokeStyle = ctx.fillStyle = L.color; ctx.lineWidth = L.width;
      for (let i = 0; i < a.length; i += 4) {
        const x = X(a[i]), y = Y(a[i + 1]), vx = a[i + 2] / (2 * r) * w, vy = -a[i + 3] / (2 * r) * h;
        const n = Math.hypot(vx, vy);
        if (n < 1.5) { ctx.beginPath(); ctx.arc(x, y, 1.5, 0, 2 * Math.PI); ctx.fill(); continue; }
        const ex = x + vx, ey = y + vy, ux = vx / n, uy = vy / n, hd = Math.min(L.head, 0.6 * n);
        ctx.beginPath(); ctx.moveTo(x, y); ctx.lineTo(ex - ux * hd * 0.5, ey - uy * hd * 0.5); ctx.stroke();
        ctx.beginPath(); ctx.moveTo(ex, ey);
        ctx.lineTo(ex - ux * hd - uy * hd * 0.55, ey - uy * hd + ux * hd * 0.55);
        ctx.lineTo(ex - ux * hd + uy * hd * 0.55, ey - uy * hd - ux * hd * 0.55); ctx.closePath(); ctx.fill();
      }
    } else if (L.rings) {
      ctx.strokeStyle = L.color; ctx.lineWidth = 2;
      for (const k of L.rings) { ctx.beginPath(); ctx.ellipse(X(0), Y(0), k / (2 * r) * w, k / (2 * r) * h, 0, 0, 2 * Math.PI); ctx.stroke(); }
    } else if (L.line) {
      ctx.strokeStyle = L.color; ctx.lineWidth = L.width || 2; ctx.beginPath();
      for (let i = 0; i < L.line.length; i += 2) ctx[i ? 'lineTo' : 'moveTo'](X(L.line[i]), Y(L.line[i + 1]));
      ctx.stroke();
    }
  }
};

const ticks = (lo, hi, n) => {  // about n round numbers between lo and hi
  const raw = (hi - lo) / Math.max(1, n), mag = 10 ** Math.floor(Math.log10(raw || 1));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || mag;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(+v.toPrecision(6));
  return out;
};

const drawChart = (ctx, C, w, h) => {
  ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, w, h);
  const font = getComputedStyle(root).fontSize || '14px';
  ctx.font = `600 ${font} sans-serif`; ctx.fillStyle = '#222'; ctx.textBaseline = 'top';
  ctx.fillText(C.title, 8, 4);
  const all = C.series.filter((s) => s.x.length);
  const m = { l: 52, r: 12, t: 46, b: 34 }, pw = w - m.l - m.r, ph = h - m.t - m.b;
  ctx.font = `${font} sans-serif`;
  let lx = 8;  // the legend under the title
  for (const s of C.series) {
    ctx.fillStyle = s.color; ctx.fillRect(lx, 27, 14, 4); ctx.fillStyle = '#333';
    ctx.fillText(s.label, lx + 18, 22); lx += 30 + ctx.measureText(s.label).width;
  }
  if (!all.length) return;
  const xs = all.flatMap((s) => s.x), ys = all.flatMap((s) => s.y);
  const x0 = 0, x1 = Math.max(...xs, 1);
  let [y0, y1] = C.ylim || [Math.min(...ys), Math.max(...ys)];
  if (y1 - y0 < 1e-9) { y0 -= 0.5; y1 += 0.5; }
  const X = (x) => m.l + (x - x0) / (x1 - x0) * pw, Y = (y) => m.t + (y1 - Math.min(Math.max(y, y0), y1)) / (y1 - y0) * ph;
  ctx.strokeStyle = '#e6e6e6'; ctx.lineWidth = 1; ctx.fillStyle = '#555'; ctx.textBaseline = 'middle';
  ctx.textAlign = 'right';
  for (const v of ticks(y0, y1, 4)) {
    ctx.beginPath(); ctx.moveTo(m.l, Y(v)); ctx.lineTo(m.l + pw, Y(v)); ctx.stroke(); ctx.fillText(v, m.l - 6, Y(v));
  }
  ctx.textAlign = 'center'; ctx.textBaseline = 'top';
  for (const v of ticks(x0, x1, 5)) ctx.fillText(v >= 1000 ? `${v / 1000}k` : v, X(v), m.t + ph + 4);
  ctx.fillText(C.xlabel, m.l + pw / 2, m.t + ph + 18);
  ctx.textAlign = 'left';
  ctx.strokeStyle = '#999'; ctx.strokeRect(m.l, m.t, pw, ph);
  ctx.lineWidth = 2;
  for (const s of all) {
    ctx.strokeStyle = s.color; ctx.beginPath();
    s.x.forEach((x, i) => ctx[i ? 'lineTo' : 'moveTo'](X(x), Y(s.y[i])));
    ctx.stroke();
  }
};

const draw = () => {
  pending = false;
  const f = latest;
  if (!f) return;
  const items = f.panels || f.charts || [];
  root.classList.toggle('pg-charts', !!f.charts);
  while (root.children.length > items.length) root.lastChild.remove();
  items.forEach((it, i) => {
    const fig = figureAt(i, f.charts ? 'pg-chart' : 'pg-panel');
    const canvas = fig.querySelector('canvas'), legend = fig.querySelector('.pg-legend');
    if (f.charts) {
      const w = Math.max(200, Math.floor(fig.clientWidth || (root.clientWidth - 10 * (items.length - 1)) / items.length));
      drawChart(sized(canvas, w, it.height || 230), it, w, it.height || 230);
      canvas.setAttribute('aria-label', it.title);
    } else {
      fig.style.width = `${it.w}px`;
      drawPanel(sized(canvas, it.w, it.h), it);
      canvas.setAttribute('aria-label', it.alt);
      const html = legendHtml(it.legend);
      if (legend.dataset.html !== html) { legend.innerHTML = html; legend.dataset.html = html; }
    }
  });
  root.dataset.frames = +root.dataset.frames + 1;  // tests and benchmarks count what was drawn
};

const show = (f) => { latest = f; if (!pending) { pending = true; requestAnimationFrame(draw); } };
const stop = () => { if (playing !== null) stopped.add(playing); playing = null; queue.length = 0; };
const tick = (now) => {
  if (queue.length && now >= next) {
    latest = queue.shift();
    draw();
    next = Math.max(next + 1000 / fps, now - 1000 / fps);  // a steady rate, catching up after a late paint
  }
  if (queue.length) requestAnimationFrame(tick); else ticking = false;
};
const receive = (first) => {
  const v = props.value;
  if (!v) return;
  let f;
  try { f = typeof v === 'string' ? JSON.parse(v) : v; } catch (e) { return; }
  if (!f.frames) { queue.length = 0; show(f); return; }  // a step or a setting: at once; a Play goes on after it
  if (first === true || !f.frames.length) { if (f.frames.length) show(f.frames[f.frames.length - 1]); return; }
  if (stopped.has(f.play)) return;  // a film of a Play already paused, still on its way
  root.dataset.films = +root.dataset.films + 1;  // films received (tests: frames painted > films)
  if (f.play !== playing) { stop(); playing = f.play; }
  fps = f.fps || 15;
  if (!queue.length) next = Math.max(next, performance.now());  // after a pause in the stream: no burst
  queue.push(...f.frames);
  if (queue.length > 2 * fps) queue.splice(0, queue.length - Math.ceil(fps));  // far behind: skip ahead
  if (!ticking) { ticking = true; requestAnimationFrame(tick); }
};
watch('value', () => receive(false));
receive(true);
const host = root.closest('[id^="toy-"]');  // the component's elem_id, e.g. toy-gan-view
window.addEventListener('pg-stop', (e) => { if (!host || !e.detail || host.id.startsWith(e.detail)) stop(); });
if (window.ResizeObserver) new ResizeObserver(() => { if (latest && latest.charts && !pending) { pending = true; requestAnimationFrame(draw); } }).observe(root);
