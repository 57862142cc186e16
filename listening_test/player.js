// MUSHRA multi-stimulus player: the body of gr.HTML's js_on_load (element, trigger, props, watch given).
//
// One Web Audio context; every stimulus of a trial is fetched by its opaque key and decoded to an
// AudioBuffer before anything plays. Switching stimuli keeps the playback position: the old source
// fades out over 5 ms (raised cosine), then the new one fades in over 5 ms -- never a cross-fade.
// The server's value (props.value) is the screen to show; a submission is sent by setting
// props.value = {...screen, submission} and triggering 'submit'; the reply is the next screen.
const FADE = 0.005;
const MIN_LOOP = 0.5;
const MARGIN = 0.02;  // scheduling margin, s
const SUBMIT_TIMEOUT_MS = 20000;
const BANDS = ["Excellent", "Good", "Fair", "Poor", "Bad"];
const root = element.querySelector(".mushra-root");
const shared = window.__mushra || (window.__mushra = {ctx: null});
let S = null;  // the state of the screen on show

function curve(rise) {
  const n = 64, c = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const v = 0.5 - 0.5 * Math.cos(Math.PI * i / (n - 1));
    c[i] = rise ? v : 1 - v;
  }
  return c;
}
const RISE = curve(true), FALL = curve(false);

function ctx() {
  if (!shared.ctx) shared.ctx = new (window.AudioContext || window.webkitAudioContext)();
  if (shared.ctx.state === "suspended") shared.ctx.resume();
  return shared.ctx;
}
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (v !== false && v !== null && v !== undefined) el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) el.append(c);
  return el;
}
function audioUrl(key) {
  return new URL("mushra/audio/" + encodeURIComponent(key), window.location.origin + window.location.pathname).href;
}
function screenId(v) {
  return v && v.token ? [v.token, v.session, v.screen, v.trial || ""].join(":") : "";
}
function log(kind, key, value, detail) {
  if (!S) return;
  S.events.push({t: Math.round((performance.now() - S.t0) * 10) / 10, kind, key: key || "",
                 value: value === undefined ? null : value, detail: detail || ""});
}
function status(text, isError) {
  const el = root.querySelector(".m-status");
  if (el) { el.textContent = text; el.classList.toggle("m-error", !!isError); }
}
function rememberToken(v) {
  const url = new URL(window.location.href);
  if (url.searchParams.get("token") !== v.token) {
    url.searchParams.set("token", v.token);
    window.history.replaceState(null, "", url.href);
  }
}
function resumeLink(v) {
  const url = new URL(window.location.origin + window.location.pathname);
  url.searchParams.set("token", v.token);
  return h("p", {class: "m-resume"}, "Your personal link (to continue later or after a problem): ",
           h("code", {class: "m-link"}, url.href));
}

// -- playback engine ------------------------------------------------------------------------------

function positionAt(time) {
  if (!S.playing) return S.pausedAt;
  const [a, b] = S.loop;
  const p = S.startPos + (time - S.startCtx);
  return p < b ? Math.max(p, 0) : a + ((p - a) % (b - a));
}
function clampToLoop(p) {
  const [a, b] = S.loop;
  return Math.min(Math.max(p, a), b - 0.001);
}
function startNode(key, offset, when) {
  const c = ctx(), src = c.createBufferSource(), gain = c.createGain();
  src.buffer = S.buffers[key];
  src.loop = true;
  src.loopStart = S.loop[0];
  src.loopEnd = S.loop[1];
  src.connect(gain);
  gain.connect(c.destination);
  gain.gain.setValueAtTime(0, when);
  gain.gain.setValueCurveAtTime(RISE, when, FADE);
  src.start(when, offset);
  S.node = {src, gain, fadeEnd: when + FADE};
  S.startCtx = when;
  S.startPos = offset;
}
function stopNode(when) {  // fade out from `when`; returns the time the fade ends
  const node = S.node;
  S.node = null;
  if (!node) return when;
  when = Math.max(when, node.fadeEnd);
  node.gain.gain.cancelScheduledValues(when);
  node.gain.gain.setValueCurveAtTime(FALL, when, FADE);
  node.src.stop(when + FADE);
  return when + FADE;
}
function play(key) {
  const when = ctx().currentTime + MARGIN;
  startNode(key, clampToLoop(S.pausedAt), when);
  S.playing = true;
}
function switchTo(key) {  // fade out, then fade in at the same position
  const t = Math.max(ctx().currentTime + MARGIN, S.node ? S.node.fadeEnd : 0);
  const end = stopNode(t);
  startNode(key, clampToLoop(positionAt(end)), end);
}
function stop() {
  const t = Math.max(ctx().currentTime + MARGIN, S.node ? S.node.fadeEnd : 0);
  S.pausedAt = positionAt(t);
  stopNode(t);
  S.playing = false;
}
function seek(p) {
  p = clampToLoop(p);
  if (S.playing) {
    const t = Math.max(ctx().currentTime + MARGIN, S.node ? S.node.fadeEnd : 0);
    const end = stopNode(t);
    startNode(S.current, p, end);
  } else {
    S.pausedAt = p;
  }
  log("seek", S.current, Math.round(p * 1000) / 1000);
}
function setLoop(a, b) {
  a = Math.max(0, Math.min(a, S.duration));
  b = Math.max(0, Math.min(b, S.duration));
  if (b < a) [a, b] = [b, a];
  const span = Math.min(MIN_LOOP, S.duration);
  if (b - a < span) {
    b = Math.min(S.duration, a + span);
    a = b - span;
  }
  const position = S.playing ? positionAt(ctx().currentTime) : S.pausedAt;
  S.loop = [a, b];
  log("loop", S.current, Math.round(a * 1000) / 1000, (Math.round(b * 1000) / 1000).toString());
  if (S.playing) seek(position); else S.pausedAt = clampToLoop(S.pausedAt);
}

// -- trial actions --------------------------------------------------------------------------------

function select(key) {
  if (!S || !S.ready || S.submitting) return;
  if (S.current === key && S.playing) {
    stop();
    log("stop", key);
  } else if (S.playing) {
    S.current = key;
    switchTo(key);
    log("switch", key);
  } else {
    S.current = key;
    play(key);
    log("play", key);
  }
  if (S.playing && key !== S.screen.reference) S.played.add(key);
  refresh();
}
function togglePlay() {
  if (!S || !S.ready) return;
  select(S.current || S.screen.reference);
}
function rate(key, value, final) {
  S.ratings[key] = value;
  const now = performance.now();
  if (final || now - (S.lastRateLog[key] || 0) > 100) {
    log(final ? "rate" : "rate_move", key, value);
    S.lastRateLog[key] = now;
  }
  refresh();
}
function complete() {
  return S.screen.stimuli.every(s => S.played.has(s.key) && Number.isInteger(S.ratings[s.key]));
}
function submitTrial() {
  if (!S || S.submitting || !complete()) return;
  if (S.playing) { stop(); log("stop", S.current); }
  const ratings = {};
  for (const s of S.screen.stimuli) ratings[s.key] = S.ratings[s.key];
  log("next");
  send({trial: S.screen.trial, ratings, events: S.events, client_id: S.clientId});
}
function send(submission) {
  S.submitting = true;
  status("Saving…");
  refresh();
  const screen = Object.assign({}, S.screen);
  delete screen.error;
  props.value = Object.assign(screen, {submission});
  trigger("submit");
  clearTimeout(S.timer);
  const mine = S;
  S.timer = setTimeout(() => {
    if (S === mine && S.submitting) {
      S.submitting = false;
      status("Not saved yet (no answer from the server). Check your connection and press the button again.", true);
      refresh();
    }
  }, SUBMIT_TIMEOUT_MS);
}

// -- rendering ------------------------------------------------------------------------------------

function refresh() {
  if (!S || S.screen.screen !== "trial") return;
  for (const [key, parts] of Object.entries(S.widgets)) {
    const isCurrent = key === S.current;
    parts.button.classList.toggle("m-active", isCurrent && S.playing);
    parts.button.classList.toggle("m-selected", isCurrent);
    parts.button.classList.toggle("m-played", S.played.has(key));
    if (parts.slider) {
      parts.slider.disabled = !isCurrent || !S.ready || S.submitting;
      const rated = Number.isInteger(S.ratings[key]);
      parts.slider.classList.toggle("m-unset", !rated);
      parts.value.textContent = rated ? String(S.ratings[key]) : "–";
    }
  }
  const total = S.screen.stimuli.length;
  const played = S.screen.stimuli.filter(s => S.played.has(s.key)).length;
  const rated = S.screen.stimuli.filter(s => Number.isInteger(S.ratings[s.key])).length;
  const next = root.querySelector(".m-next");
  next.disabled = S.submitting || !complete();
  if (!S.submitting && S.ready) {
    status(complete() ? "All stimuli played and rated: press Next." :
           `Play and rate every stimulus: ${played} of ${total} played, ${rated} of ${total} rated.`);
  }
  root.querySelector(".m-play").textContent = S.playing ? "■ Stop" : "▶ Play";
}

function drawWave() {
  if (!S || !S.canvas || !S.ready) return;
  const canvas = S.canvas, dpr = window.devicePixelRatio || 1;
  const width = Math.max(1, Math.round(canvas.clientWidth * dpr)), height = Math.round(canvas.clientHeight * dpr);
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
    S.envelope = null;
  }
  if (!S.envelope) {
    const data = S.buffers[S.screen.reference].getChannelData(0), step = data.length / width;
    S.envelope = [];
    for (let x = 0; x < width; x++) {
      let lo = 0, hi = 0;
      for (let i = Math.floor(x * step); i < Math.floor((x + 1) * step); i++) {
        if (data[i] < lo) lo = data[i];
        if (data[i] > hi) hi = data[i];
      }
      S.envelope.push([lo, hi]);
    }
  }
  const g = canvas.getContext("2d"), mid = height / 2;
  g.clearRect(0, 0, width, height);
  const [a, b] = S.drag ? S.drag : S.loop;
  if (S.drag || a > 0 || b < S.duration) {
    g.fillStyle = "rgba(59, 130, 246, 0.22)";
    g.fillRect(a / S.duration * width, 0, (b - a) / S.duration * width, height);
  }
  g.fillStyle = "#6b7280";
  S.envelope.forEach(([lo, hi], x) => g.fillRect(x, mid - hi * mid, 1, Math.max(1, (hi - lo) * mid)));
  const p = S.ready ? positionAt(ctx().currentTime) : 0;
  g.fillStyle = "#dc2626";
  g.fillRect(p / S.duration * width - dpr, 0, 2 * dpr, height);
  const time = root.querySelector(".m-time");
  if (time) time.textContent = `${p.toFixed(1)} / ${S.duration.toFixed(1)} s` +
    (S.loop[0] > 0 || S.loop[1] < S.duration ? `  ·  loop ${S.loop[0].toFixed(1)}–${S.loop[1].toFixed(1)} s` : "");
}
function animate(state) {
  if (S !== state) return;
  drawWave();
  requestAnimationFrame(() => animate(state));
}

function waveform() {
  const canvas = h("canvas", {class: "m-wave", title: "Click to seek, drag to set a loop"});
  const toTime = ev => {
    const r = canvas.getBoundingClientRect();
    return Math.min(Math.max((ev.clientX - r.left) / r.width, 0), 1) * S.duration;
  };
  let down = null;
  canvas.addEventListener("pointerdown", ev => {
    if (!S.ready) return;
    down = {x: ev.clientX, t: toTime(ev)};
    canvas.setPointerCapture(ev.pointerId);
  });
  canvas.addEventListener("pointermove", ev => {
    if (down && Math.abs(ev.clientX - down.x) > 4) S.drag = [Math.min(down.t, toTime(ev)), Math.max(down.t, toTime(ev))];
  });
  canvas.addEventListener("pointerup", ev => {
    if (!down) return;
    if (S.drag) { setLoop(S.drag[0], S.drag[1]); S.drag = null; } else seek(toTime(ev));
    down = null;
    refresh();
  });
  return canvas;
}

function scale() {
  return h("div", {class: "m-scale"}, ...BANDS.map(b => h("div", {class: "m-band"}, b)));
}

function renderTrial(v) {
  const isTraining = v.phase === "training";
  const title = isTraining ? `Training ${v.index} of ${v.count}` : `Trial ${v.index} of ${v.count}`;
  const notice = isTraining
    ? "Training: get to know the range of quality. These ratings are recorded but not counted."
    : (v.index === 1 ? "The training is over: from now on your ratings count." : null);
  const columns = h("div", {class: "m-columns"}, scale());
  const refButton = h("button", {class: "m-stim m-ref", onclick: () => select(v.reference)}, "Reference");
  columns.append(h("div", {class: "m-col m-refcol"}, refButton, h("div", {class: "m-keyhint"}, "key R")));
  S.widgets[v.reference] = {button: refButton};
  for (const s of v.stimuli) {
    const button = h("button", {class: "m-stim", "data-label": s.label, onclick: () => select(s.key)}, s.label);
    const value = h("div", {class: "m-value"}, "–");
    const slider = h("input", {class: "m-rating m-unset", type: "range", min: "0", max: "100", step: "1",
                               value: "50", disabled: true, "aria-label": `rating of ${s.label}`});
    slider.addEventListener("input", () => rate(s.key, parseInt(slider.value, 10), false));
    slider.addEventListener("change", () => rate(s.key, parseInt(slider.value, 10), true));
    columns.append(h("div", {class: "m-col"}, button, h("div", {class: "m-slot"}, slider), value));
    S.widgets[s.key] = {button, slider, value};
  }
  S.canvas = waveform();
  root.replaceChildren(
    h("div", {class: "m-head"}, h("h2", {}, title), h("span", {class: "m-who"}, `Listener ${v.listener}`)),
    notice ? h("p", {class: "m-notice"}, notice) : null,
    h("p", {class: "m-help"}, "Compare every stimulus with the Reference and rate its quality. " +
      "One of the stimuli is the reference itself. Switching keeps the playback position."),
    S.canvas,
    h("div", {class: "m-transport"},
      h("button", {class: "m-play", onclick: togglePlay}, "▶ Play"),
      h("button", {onclick: () => setLoop(positionAt(ctx().currentTime), S.loop[1])}, "Loop start ["),
      h("button", {onclick: () => setLoop(S.loop[0], positionAt(ctx().currentTime))}, "Loop end ]"),
      h("button", {onclick: () => setLoop(0, S.duration)}, "Clear loop (Esc)"),
      h("span", {class: "m-time"}, "")),
    columns,
    h("div", {class: "m-foot"},
      h("button", {class: "m-next", disabled: true, onclick: submitTrial}, "Next →"),
      h("span", {class: "m-status"}, "Loading the audio…")),
    h("p", {class: "m-keys"}, "Keys: Space play/stop · R reference · A–" + v.stimuli[v.stimuli.length - 1].label +
      " stimuli · ←/→ seek 1 s · [ ] loop start/end · Esc clear loop · Enter next"),
    resumeLink(v));
  const state = S;
  const keys = v.stimuli.map(s => s.key).concat([v.reference]);
  const c = ctx();
  Promise.all(keys.map(key => fetch(audioUrl(key), {cache: "no-store"})
    .then(r => { if (!r.ok) throw new Error(`HTTP ${r.status}`); return r.arrayBuffer(); })
    .then(data => c.decodeAudioData(data))
    .then(buffer => { state.buffers[key] = buffer; })))
    .then(() => {
      if (S !== state) return;
      S.duration = Math.min(...keys.map(k => S.buffers[k].duration));
      S.loop = [0, S.duration];
      S.ready = true;
      log("ready", null, S.duration);
      refresh();
      animate(state);
    })
    .catch(err => { if (S === state) status(`Could not load the audio (${err.message}): reload the page.`, true); });
}

function renderLevel(v) {
  let sampleSource = null, rounds = [], answered = 0, correct = 0, played = false;
  const sampleButton = h("button", {class: "m-stim m-wide m-sample"}, "▶ Play the sample");
  const toneButton = h("button", {class: "m-stim m-wide m-tone"}, "▶ Play a tone");
  const left = h("button", {class: "m-left", disabled: true}, "Left");
  const right = h("button", {class: "m-right", disabled: true}, "Right");
  const result = h("span", {class: "m-check"}, "");
  const proceed = h("button", {class: "m-next", disabled: true}, "Continue →");
  const stopSample = () => { if (sampleSource) { sampleSource.stop(); sampleSource = null; } sampleButton.textContent = "▶ Play the sample"; };
  sampleButton.addEventListener("click", () => {
    if (sampleSource) { stopSample(); log("stop", v.sample); return; }
    if (!S.buffers.sample) return;
    const c = ctx();
    sampleSource = c.createBufferSource();
    sampleSource.buffer = S.buffers.sample;
    sampleSource.loop = true;
    sampleSource.connect(c.destination);
    sampleSource.start();
    sampleButton.textContent = "■ Stop the sample";
    played = true;
    proceed.disabled = false;
    log("play", v.sample);
  });
  toneButton.addEventListener("click", () => {
    const c = ctx(), side = Math.random() < 0.5 ? -1 : 1, osc = c.createOscillator(), pan = c.createStereoPanner();
    const gain = c.createGain(), t = c.currentTime + MARGIN;
    osc.frequency.value = 500;
    pan.pan.value = side;
    gain.gain.setValueAtTime(0, t);
    gain.gain.setValueCurveAtTime(RISE.map(x => x * 0.2), t, 0.02);
    gain.gain.setValueAtTime(0.2, t + 0.9);
    gain.gain.setValueCurveAtTime(FALL.map(x => x * 0.2), t + 0.9, 0.02);
    osc.connect(gain).connect(pan).connect(c.destination);
    osc.start(t);
    osc.stop(t + 1);
    rounds.push(side);
    left.disabled = right.disabled = false;
    toneButton.disabled = true;
    log("tone", null, side);
  });
  const answer = side => {
    correct += rounds[rounds.length - 1] === side ? 1 : 0;
    answered += 1;
    log("answer", null, side);
    left.disabled = right.disabled = true;
    toneButton.disabled = answered >= 3;
    result.textContent = answered >= 3 ? `Check done: ${correct} of 3 correct.` : `Round ${answered + 1} of 3.`;
  };
  left.addEventListener("click", () => answer(-1));
  right.addEventListener("click", () => answer(1));
  proceed.addEventListener("click", () => {
    stopSample();
    const check = answered >= 3 ? `headphone check ${correct === 3 ? "passed" : "failed"} ${correct}/3`
                                : "headphone check not done";
    send({level: `level set; ${check}`, events: S.events});
  });
  const skip = h("button", {class: "m-skip", onclick: () => { stopSample(); send({level: "skipped", events: S.events}); }},
                 "Skip these checks");
  root.replaceChildren(
    h("h2", {}, "Before you start: level and headphone check"),
    h("p", {}, "Put on your headphones. Play the sample and set your computer's volume to a comfortable level. " +
               "Keep that volume for the whole test."),
    h("div", {class: "m-transport"}, sampleButton),
    h("h3", {}, "Headphone check (optional)"),
    h("p", {}, "Play a tone, then say in which ear you heard it. Three rounds."),
    h("div", {class: "m-transport"}, toneButton, left, right, result),
    h("div", {class: "m-foot"}, proceed, skip, h("span", {class: "m-status"}, "Loading the sample…")),
    resumeLink(v));
  const state = S;
  fetch(audioUrl(v.sample), {cache: "no-store"})
    .then(r => { if (!r.ok) throw new Error(`HTTP ${r.status}`); return r.arrayBuffer(); })
    .then(data => ctx().decodeAudioData(data))
    .then(buffer => { if (S === state) { S.buffers.sample = buffer; S.ready = true; status(""); } })
    .catch(err => { if (S === state) status(`Could not load the sample (${err.message}): reload the page.`, true); });
}

function renderDone(v) {
  root.replaceChildren(
    h("h2", {}, "Thank you!"),
    h("p", {class: "m-done"}, `All ${v.trials} trials are saved. You can close this page.`));
}

function teardown() {
  if (!S) return;
  if (S.playing) stopNode(ctx().currentTime + MARGIN);
  clearTimeout(S.timer);
  S = null;
}

function show() {
  const v = props.value;
  if (!v || !v.screen) { teardown(); root.replaceChildren(); return; }
  if (S && S.id === screenId(v)) {  // the reply to a submission that was refused: keep everything
    S.submitting = false;
    clearTimeout(S.timer);
    if (v.error) status(`Not saved: ${v.error}`, true);
    refresh();
    return;
  }
  teardown();
  S = {id: screenId(v), screen: v, buffers: {}, widgets: {}, ready: false, playing: false, node: null,
       current: null, pausedAt: 0, startCtx: 0, startPos: 0, loop: [0, 0], duration: 0, played: new Set(),
       ratings: {}, lastRateLog: {}, events: [], t0: performance.now(), submitting: false, drag: null,
       clientId: Math.random().toString(36).slice(2) + Date.now().toString(36)};
  rememberToken(v);
  if (v.screen === "trial") renderTrial(v);
  else if (v.screen === "level") renderLevel(v);
  else renderDone(v);
  if (v.error) status(v.error, true);
}

function onKey(ev) {
  if (!S || !root.isConnected || S.screen.screen !== "trial") return;
  const target = ev.target;
  if (target && (target.tagName === "TEXTAREA" || (target.tagName === "INPUT" && target.type !== "range"))) return;
  const key = ev.key;
  if (key === " ") { ev.preventDefault(); togglePlay(); return; }
  if (key === "Enter") { ev.preventDefault(); submitTrial(); return; }
  if (key === "Escape") { if (S.ready) { setLoop(0, S.duration); refresh(); } return; }
  if (!S.ready) return;
  if (key === "[") { setLoop(positionAt(ctx().currentTime), S.loop[1]); return; }
  if (key === "]") { setLoop(S.loop[0], positionAt(ctx().currentTime)); return; }
  if ((key === "ArrowLeft" || key === "ArrowRight") && !(target && target.type === "range")) {
    ev.preventDefault();
    seek(positionAt(ctx().currentTime) + (key === "ArrowLeft" ? -1 : 1));
    return;
  }
  if (ev.ctrlKey || ev.metaKey || ev.altKey || key.length !== 1) return;
  const upper = key.toUpperCase();
  if (upper === "R") { select(S.screen.reference); return; }
  const stimulus = S.screen.stimuli.find(s => s.label === upper);
  if (stimulus) select(stimulus.key);
}

document.addEventListener("keydown", onKey);
window.addEventListener("beforeunload", ev => {
  if (S && S.screen.screen === "trial" && Object.keys(S.ratings).length && !S.submitting) {
    ev.preventDefault();
    ev.returnValue = "";
  }
});
watch("value", show);
show();
