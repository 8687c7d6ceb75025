// The DDPM tab's reverse-chain player (gen/ui/ddpm_tab.py): Gradio 6 runs this as the gr.HTML's js_on_load.
// A still (fps 0) is shown at once and ends any animation. A Play stream sends its frames in chunks, computed
// ahead of the animation; they are queued and painted `fps` a second. A chain button first dispatches
// 'ddpm-stop' (ddpm_tab.STOP_JS): the animation stops on the frame on screen and later chunks of that Play are
// ignored, so the server can go on from the t the visitor sees.
const queue = []; let next = 0; let playing = null; const stopped = new Set();
const paint = (f) => {
  for (const k of ['x_t', 'eps', 'x0_hat', 'film', 'eps_c', 'eps_u']) {
    if (!(k in f)) continue;  // the filmstrip comes only when it changed
    const img = element.querySelector(`img[data-k="${k}"]`);
    if (f[k]) img.src = f[k]; else img.removeAttribute('src');  // an empty box before the first step
  }
  // guidance (classifier-free, or autoguidance): the equation with its three images, shown only for a guided chain
  element.querySelector('.cfg').style.display = f.eps_c ? '' : 'none';
  element.querySelector('.eps-fig').style.display = f.eps_c ? 'none' : '';
  if (f.eps_c) element.querySelector('img[data-k="eps_g"]').src = f.eps;
  (f.labels || []).forEach((l, i) => { element.querySelector(`[data-l="${i}"]`).textContent = l; });
  element.querySelector('#ddpm-cfg').innerHTML = f.cfg || '';
  element.querySelector('#ddpm-t').textContent = f.t;
  element.querySelector('#ddpm-numbers').innerHTML = f.numbers;
};
const stop = () => { if (playing) stopped.add(playing); playing = null; queue.length = 0; };
const receive = () => {
  const v = props.value;
  if (!v || !v.frames || !v.frames.length) return;
  if (!v.fps) { stop(); paint(v.frames[v.frames.length - 1]); return; }
  if (stopped.has(v.play)) return;  // a chunk of a Play already stopped, still on its way
  if (v.play !== playing) { stop(); playing = v.play; }
  queue.push(...v.frames.map(f => ({...f, fps: v.fps})));
};
const tick = (now) => {
  if (queue.length && now >= next) {
    const f = queue.shift();
    paint(f);
    next = Math.max(next + 1000 / f.fps, now - 1000 / f.fps);  // a steady rate, catching up after a stall
  }
  requestAnimationFrame(tick);
};
window.addEventListener('ddpm-stop', stop);
watch('value', receive);
receive();
requestAnimationFrame(tick);
