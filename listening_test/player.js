// MUSHRA multi-stimulus player: the body of gr.HTML's js_on_load (element, trigger, props, watch given).
//
// One Web Audio context; every stimulus of a trial is fetched by its opaque key and decoded to an
// AudioBuffer before anything plays. Switching stimuli keeps the playback position: the old source
// fades out over 5 ms (raised cosine), then the new one fades in over 5 ms -- never a cross-fade.
// The server's value (props.value) is the screen to show; a submission is sent by setting
// props.value = {...screen, submission} and triggering 'submit'; the reply is the next screen.
//
// Listening rule: every stimulus and the Reference must be heard for screen.min_play_ms before Next
// unlocks. Play time is counted from the event log exactly as the server counts it
// (codecbench.listening_test.events.playback), so Next unlocks when the server will accept the trial.
//
// Nothing is lost in the browser: the ratings and the event log of the trial on screen are kept in
// localStorage (per listener token) until the server confirms the trial. A save that fails shows a
// persistent error with a retry button; reopening the page restores the trial and resends a submission
// that was never confirmed.
//
// Keyboard: Space and Enter do what the focused control says (a focused B plays B); the page-wide keys
// (Space play/stop, Enter next, arrows seek) act only when no control has the focus, arrow keys on a
// slider move the slider only; letters A-L and R select stimuli unless a text field has the focus.
const FADE = 0.005;
const MIN_LOOP = 0.5;
const MARGIN = 0.02;  // scheduling margin, s
const SUBMIT_TIMEOUT_MS = 12000;
const STARTS = new Set(["play", "switch"]), ENDS = new Set(["stop", "next"]);
const SLIDER_KEYS = new Set(["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight", "PageUp", "PageDown"]);
const root = element.querySelector(".mushra-root");
const shared = window.__mushra || (window.__mushra = {ctx: null});
const TEXTS = props.texts || {labels: {}, questionnaire: []};
const TYPE = TEXTS.type || "mushra";  // mushra: sliders; acr, dcr, ccr, ab: one answer per trial (see renderChoiceTrial)
const SINGLE = TYPE === "acr" || TYPE === "dcr";  // one rated stimulus answered with a category
let S = null;  // the state of the screen on show

if (TEXTS.language) document.documentElement.lang = TEXTS.language;

function T(key, params) {
  let text = String((TEXTS.labels || {})[key] ?? key);
  for (const [name, value] of Object.entries(params || {})) text = text.split(`{${name}}`).join(String(value));
  return text;
}

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
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}
function show_(...children) {  // replace the screen (null children are left out, never shown as "null")
  root.replaceChildren(...children.filter(c => c !== null && c !== undefined && c !== false));
  const heading = root.querySelector("h1");  // a new screen is announced: its heading takes the focus
  if (heading) heading.focus({preventScroll: true});
}
function audioUrl(key) {
  return new URL("mushra/audio/" + encodeURIComponent(key), window.location.origin + window.location.pathname).href;
}
function screenId(v) {
  return v && v.token ? [v.token, v.session, v.screen, v.trial || "", v.answered ? "a" : ""].join(":") : "";
}
function log(kind, key, value, detail) {
  if (!S) return;
  S.events.push({t: Math.round((performance.now() - S.t0) * 10) / 10, kind, key: key || "",
                 value: value === undefined ? null : value, detail: detail || ""});
  keep();
}
function status(text) {
  const el = root.querySelector(".m-status");
  if (el && el.textContent !== text) el.textContent = text;
}
function alertError(text) {  // a persistent error: stays until a save succeeds
  const box = root.querySelector(".m-alert");
  if (!box) return;
  box.hidden = !text;
  box.querySelector(".m-alert-text").textContent = text || "";
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
  return h("p", {class: "m-resume"}, T("personal_link") + " ", h("code", {class: "m-link"}, url.href));
}

// -- what the browser keeps until the server confirms --------------------------------------------------

function storageKey(v) { return "mushra:" + v.token; }
function readKept(v) {
  try { return JSON.parse(window.localStorage.getItem(storageKey(v)) || "null"); } catch (e) { return null; }
}
function keep() {  // the trial on screen: its ratings, its event log, and a submission not yet confirmed
  if (!S || S.screen.screen !== "trial") return;
  try {
    window.localStorage.setItem(storageKey(S.screen), JSON.stringify({
      trial: S.screen.trial, ratings: S.ratings, events: S.events, pending: S.pending, clientId: S.clientId}));
  } catch (e) { /* storage full or disabled: the page still works, it only cannot restore */ }
}
function forget(v) {
  try { window.localStorage.removeItem(storageKey(v)); } catch (e) { /* nothing kept */ }
}

// -- play time, counted as the server counts it ---------------------------------------------------------

function heardMs(live) {  // key -> ms heard; with `live`, the stretch playing now counts up to now
  const heard = {};
  let current = "", since = null;
  for (const e of S.events) {
    if (!STARTS.has(e.kind) && !ENDS.has(e.kind)) continue;
    if (current) heard[current] = (heard[current] || 0) + Math.max(0, e.t - since);
    current = ""; since = null;
    if (STARTS.has(e.kind) && e.key) { current = e.key; since = e.t; }
  }
  if (current && S.events.length) {
    const end = live ? (performance.now() - S.t0) : S.events[S.events.length - 1].t;
    heard[current] = (heard[current] || 0) + Math.max(0, end - since);
  }
  return heard;
}
function trialKeys() { return [S.screen.reference, ...S.screen.stimuli.map(s => s.key)].filter(k => k); }
function heardEnough(heard, key) { return (heard[key] || 0) >= (S.screen.min_play_ms || 0); }

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
  refresh();
}
function togglePlay() {
  if (!S || !S.ready) return;
  select(S.current || S.screen.reference || S.screen.stimuli[0].key);
}
function currentRatings() {
  const ratings = {};
  for (const s of S.screen.stimuli) ratings[s.key] = S.ratings[s.key];
  return ratings;
}
function updatePending() {  // a submission not yet confirmed carries the newest ratings and the whole log
  if (S.pending) S.pending = Object.assign({}, S.pending, {ratings: currentRatings(), events: S.events.slice()});
}
function rate(key, value, final) {
  S.ratings[key] = value;
  if (!S.submitting) updatePending();
  const now = performance.now();
  if (final || now - (S.lastRateLog[key] || 0) > 100) {
    log(final ? "rate" : "rate_move", key, value);
    S.lastRateLog[key] = now;
  }
  refresh();
}
function complete(heard) {
  return trialKeys().every(k => heardEnough(heard, k)) &&
         S.screen.stimuli.every(s => Number.isInteger(S.ratings[s.key]));
}
function submitTrial() {
  if (!S || S.submitting || !S.ready || !complete(heardMs(true))) return;
  if (S.playing) { stop(); log("stop", S.current); }
  log("next");
  S.pending = {trial: S.screen.trial, ratings: currentRatings(), events: S.events.slice(), client_id: S.clientId};
  keep();
  send(S.pending);
}
function send(submission) {
  S.submitting = true;
  alertError("");
  status(T("saving"));
  refresh();
  const screen = Object.assign({}, S.screen);
  delete screen.error;
  props.value = Object.assign(screen, {submission});
  trigger("submit");
  clearTimeout(S.timer);
  const mine = S;
  S.timer = setTimeout(() => {
    if (S === mine && S.submitting) failed(T("no_answer"));
  }, SUBMIT_TIMEOUT_MS);
}
function failed(reason) {
  S.submitting = false;
  clearTimeout(S.timer);
  if (S.screen.screen === "trial") {
    alertError(T("save_failed", {reason}));
  } else {
    alertError(reason);
  }
  refresh();
}
function retry() {
  if (!S || S.submitting) return;
  if (S.screen.screen === "trial" && S.pending) { updatePending(); send(S.pending); }
  else if (S.lastSubmission) send(S.lastSubmission);
}

// -- rendering ------------------------------------------------------------------------------------

function valueText(key) {
  const value = S.ratings[key];
  if (!Number.isInteger(value)) return T("not_rated");
  const bands = TEXTS.labels.bands || [];
  const band = bands[Math.min(4, Math.floor((100 - value) / 20))] || "";  // bands run best first
  return band ? `${value}, ${band}` : String(value);
}

function refresh() {
  if (!S || S.screen.screen !== "trial") return;
  const heard = heardMs(true);
  for (const [key, parts] of Object.entries(S.widgets)) {
    const isCurrent = key === S.current;
    const enough = heardEnough(heard, key);
    parts.button.classList.toggle("m-active", isCurrent && S.playing);
    parts.button.classList.toggle("m-selected", isCurrent);
    parts.button.classList.toggle("m-played", enough);
    parts.button.setAttribute("aria-pressed", isCurrent && S.playing ? "true" : "false");
    const share = Math.min(1, (heard[key] || 0) / Math.max(1, S.screen.min_play_ms || 1));
    parts.meter.style.width = `${Math.round(share * 100)}%`;
    parts.heard.textContent = enough ? T("listened") : "";
    if (parts.slider) {
      parts.slider.disabled = !isCurrent || !S.ready || S.submitting;
      const rated = Number.isInteger(S.ratings[key]);
      parts.slider.classList.toggle("m-unset", !rated);
      if (rated && parts.slider.value !== String(S.ratings[key])) parts.slider.value = String(S.ratings[key]);
      parts.slider.setAttribute("aria-valuetext", valueText(key));
      parts.value.textContent = rated ? String(S.ratings[key]) : "–";
    }
  }
  const total = trialKeys().length;
  const heardCount = trialKeys().filter(k => heardEnough(heard, k)).length;
  const rated = S.screen.stimuli.filter(s => Number.isInteger(S.ratings[s.key])).length;
  const next = root.querySelector(".m-next");
  const done = complete(heard);
  next.disabled = S.submitting || !S.ready || !done;
  if (TYPE !== "mushra") {
    for (const input of root.querySelectorAll(".m-choice input")) {
      input.disabled = !S.ready || S.submitting;
      input.checked = choiceOf() === input.value;
    }
    if (!S.submitting && S.ready) status(done ? T("choice_complete") : T("choice_progress", {heard: heardCount, total}));
  } else if (!S.submitting && S.ready) {
    status(done ? T("complete") : T("progress", {heard: heardCount, total, rated, rated_total: total - 1}));
  }
  root.querySelector(".m-play").textContent = S.playing ? T("stop") : T("play");
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
    const data = S.buffers[trialKeys()[0]].getChannelData(0), step = data.length / width;
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
  g.fillStyle = "#4b5563";
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
  if (S.playing) refresh();  // the listening meters and Next follow the play time
  requestAnimationFrame(() => animate(state));
}

function waveform() {
  const canvas = h("canvas", {class: "m-wave", role: "img", "aria-label": T("waveform"), title: T("waveform")});
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
  return h("div", {class: "m-scale", "aria-hidden": "true"}, ...(TEXTS.labels.bands || []).map(b => h("div", {class: "m-band"}, b)));
}
function meter() {
  const bar = h("div", {class: "m-meter-fill"});
  return [h("div", {class: "m-meter", "aria-hidden": "true"}, bar), bar];
}
function errorBox() {
  return h("div", {class: "m-alert", role: "alert", hidden: true},
           h("span", {class: "m-alert-text"}, ""), " ",
           h("button", {class: "m-retry", type: "button", onclick: retry}, T("retry")));
}

function choiceOf() {  // the answer on screen as its radio value ("" when none)
  const [a, b] = S.screen.stimuli.map(s => S.ratings[s.key]);
  if (SINGLE) return Number.isInteger(a) ? String(a) : "";
  if (!Number.isInteger(a) || !Number.isInteger(b)) return "";
  if (TYPE === "ccr") return String(b - TEXTS.offset);
  return a === 50 ? "none" : (a === 100 ? "A" : "B");
}
function choose(value) {  // ACR, DCR: the category; CCR: B against A, c, stored as offset - c for A, offset + c for B;
  // A/B: 100 for the preferred stimulus, 0 for the other, 50 each for none
  if (!S || !S.ready || S.submitting) return;
  const keys = S.screen.stimuli.map(s => s.key);
  if (SINGLE) { rate(keys[0], parseInt(value, 10), true); return; }
  const c = parseInt(value, 10);
  const [a, b] = TYPE === "ccr" ? [TEXTS.offset - c, TEXTS.offset + c] :
    (value === "none" ? [50, 50] : (value === "A" ? [100, 0] : [0, 100]));
  S.ratings[keys[1]] = b;
  rate(keys[0], a, true);
  log("rate", keys[1], b);
}
function choiceGroup(v) {  // labelled radio buttons in a fieldset: arrow keys move between them, Space picks
  const options = TYPE !== "ab" ? (TEXTS.choices || []).map(c => [String(c.value), c.label]) :
    [["A", T("prefer", {label: "A"})], ["B", T("prefer", {label: "B"})],
     ...(TEXTS.no_preference ? [["none", T("no_preference")]] : [])];
  return h("fieldset", {class: "m-choice"}, h("legend", {}, TEXTS.question || ""),
           ...options.map(([value, label], i) => h("label", {class: "m-option", for: `m-choice-${i}`},
             h("input", {type: "radio", name: "m-choice", id: `m-choice-${i}`, value, disabled: true,
                         onchange: () => choose(value)}), " ", label)));
}
function trialHead(v, title, notice) {  // what every trial page shows above its stimuli (S.canvas: made first)
  return [
    h("div", {class: "m-head"}, h("h1", {tabindex: "-1"}, title),
      h("span", {class: "m-who"}, T("listener", {listener: v.listener}))),
    notice ? h("p", {class: "m-notice"}, notice) : null,
    h("p", {class: "m-help"}, TEXTS.instructions || ""),
    S.canvas];
}

function trialFoot() {  // Next, the status line and the error box of every trial page
  return [
    h("div", {class: "m-foot"},
      h("button", {class: "m-next", type: "button", disabled: true, onclick: submitTrial}, T("next")),
      h("span", {class: "m-status", role: "status", "aria-live": "polite"}, T("loading"))),
    errorBox()];
}

function renderChoiceTrial(v, title, notice) {  // ACR (one stimulus), DCR (the Reference, then one), CCR and A/B
  // (two, and the Reference if shown)
  const buttons = h("div", {class: "m-transport m-pair", role: "group", "aria-label": title});
  const keys = trialKeys();
  for (const key of keys) {
    const isRef = key === v.reference, stimulus = v.stimuli.find(s => s.key === key);
    const label = isRef ? "R" : stimulus.label;
    const text = isRef ? T("reference") : (SINGLE ? T("recording") : label);
    const button = h("button", {class: "m-stim m-wide" + (isRef ? " m-ref" : ""), type: "button",
                                "data-label": isRef ? false : label, "aria-describedby": `m-heard-${label}`,
                                onclick: () => select(key)}, text);
    const [bar, fill] = meter();
    const heard = h("span", {class: "m-sr", id: `m-heard-${label}`}, "");
    buttons.append(h("div", {class: "m-col"}, button, bar, heard));
    S.widgets[key] = {button, meter: fill, heard};
  }
  S.canvas = waveform();
  show_(
    ...trialHead(v, title, notice),
    h("div", {class: "m-transport"},
      h("button", {class: "m-play", type: "button", onclick: togglePlay}, T("play")),
      h("span", {class: "m-time", "aria-hidden": "true"}, "")),
    buttons,
    choiceGroup(v),
    ...trialFoot(),
    h("p", {class: "m-keys"}, T(`${TYPE}_keys`)),
    resumeLink(v));
  return keys;
}

function renderTrial(v) {
  const isTraining = v.phase === "training";
  const title = T(isTraining ? "training_title" : "trial_title", {index: v.index, count: v.count});
  const notice = isTraining ? T("training_notice") : (v.index === 1 ? T("test_notice") : null);
  if (TYPE !== "mushra") { loadTrial(v, renderChoiceTrial(v, title, notice)); return; }
  const columns = h("div", {class: "m-columns", role: "group", "aria-label": title}, scale());
  const refButton = h("button", {class: "m-stim m-ref", type: "button", "aria-describedby": "m-heard-R",
                                 onclick: () => select(v.reference)}, T("reference"));
  const [refMeter, refFill] = meter();
  const refHeard = h("span", {class: "m-sr", id: "m-heard-R"}, "");
  columns.append(h("div", {class: "m-col m-refcol"}, refButton, refMeter, refHeard,
                   h("div", {class: "m-keyhint", "aria-hidden": "true"}, "R")));
  S.widgets[v.reference] = {button: refButton, meter: refFill, heard: refHeard};
  for (const s of v.stimuli) {
    const button = h("button", {class: "m-stim", type: "button", "data-label": s.label,
                                "aria-describedby": `m-heard-${s.label}`, onclick: () => select(s.key)}, s.label);
    const [bar, fill] = meter();
    const heard = h("span", {class: "m-sr", id: `m-heard-${s.label}`}, "");
    const value = h("div", {class: "m-value", "aria-hidden": "true"}, "–");
    const slider = h("input", {class: "m-rating m-unset", type: "range", min: "0", max: "100", step: "1",
                               value: "50", disabled: true, "aria-label": T("rating_of", {label: s.label}),
                               "aria-valuetext": T("not_rated")});
    slider.addEventListener("input", () => rate(s.key, parseInt(slider.value, 10), false));
    slider.addEventListener("change", () => rate(s.key, parseInt(slider.value, 10), true));
    slider.addEventListener("click", () => {  // a click where the unrated value already is fires no change
      if (!Number.isInteger(S.ratings[s.key])) rate(s.key, parseInt(slider.value, 10), true);
    });
    slider.addEventListener("keydown", ev => {  // the first key on an unrated slider shows where it starts
      if (Number.isInteger(S.ratings[s.key]) || !SLIDER_KEYS.has(ev.key)) return;
      ev.preventDefault();
      slider.value = "50";
      rate(s.key, 50, true);
    });
    columns.append(h("div", {class: "m-col"}, button, bar, heard, h("div", {class: "m-slot"}, slider), value));
    S.widgets[s.key] = {button, slider, value, meter: fill, heard};
  }
  S.canvas = waveform();
  show_(
    ...trialHead(v, title, notice),
    h("div", {class: "m-transport"},
      h("button", {class: "m-play", type: "button", onclick: togglePlay}, T("play")),
      h("button", {type: "button", onclick: () => setLoop(positionAt(ctx().currentTime), S.loop[1])}, T("loop_start")),
      h("button", {type: "button", onclick: () => setLoop(S.loop[0], positionAt(ctx().currentTime))}, T("loop_end")),
      h("button", {type: "button", onclick: () => setLoop(0, S.duration)}, T("loop_clear")),
      h("span", {class: "m-time", "aria-hidden": "true"}, "")),
    columns,
    ...trialFoot(),
    h("p", {class: "m-keys"}, T("keys", {last: v.stimuli[v.stimuli.length - 1].label})),
    resumeLink(v));
  loadTrial(v, [...v.stimuli.map(s => s.key), v.reference]);
}

function loadTrial(v, keys) {  // restore what this browser kept, then fetch and decode every stimulus of the trial
  restore(v);
  const state = S;
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
      if (S.pending) { updatePending(); status(T("resubmitting")); send(S.pending); }  // never confirmed before the page closed
    })
    .catch(err => { if (S === state) alertError(T("load_failed", {reason: err.message})); });
}

function restore(v) {  // what this browser kept of this trial: ratings, play log, an unconfirmed submission
  const kept = readKept(v);
  if (!kept || kept.trial !== v.trial) { forget(v); return; }
  const events = Array.isArray(kept.events) ? kept.events.filter(e => e && typeof e.t === "number") : [];
  let playing = false;
  for (const e of events) { if (STARTS.has(e.kind)) playing = true; else if (ENDS.has(e.kind)) playing = false; }
  const last = events.length ? events[events.length - 1].t : 0;
  if (playing) events.push({t: last, kind: "stop", key: "", value: null, detail: "page closed"});
  S.events = events;
  S.t0 = performance.now() - (last + 1);  // the page clock goes on after the kept log
  for (const s of v.stimuli) {
    const value = kept.ratings && kept.ratings[s.key];
    if (Number.isInteger(value) && value >= 0 && value <= 100) S.ratings[s.key] = value;
  }
  if (kept.clientId) S.clientId = kept.clientId;
  S.pending = kept.pending && kept.pending.trial === v.trial ? kept.pending : null;
  log("restore", null, events.length);
  if (!Object.keys(S.ratings).length && !S.pending) return;  // nothing the listener entered
  const note = root.querySelector(".m-notice") || root.querySelector(".m-help");
  if (note) note.after(h("p", {class: "m-restored"}, T("restored")));
}

function renderLevel(v) {
  let sampleSource = null, rounds = [], answered = 0, correct = 0, played = false;
  const sampleButton = h("button", {class: "m-stim m-wide m-sample", type: "button"}, T("play_sample"));
  const toneButton = h("button", {class: "m-stim m-wide m-tone", type: "button"}, T("play_tone"));
  const left = h("button", {class: "m-left", type: "button", disabled: true}, T("left"));
  const right = h("button", {class: "m-right", type: "button", disabled: true}, T("right"));
  const result = h("span", {class: "m-check", role: "status"}, "");
  const proceed = h("button", {class: "m-next", type: "button", disabled: true}, T("continue"));
  const required = !!TEXTS.require_headphones;
  const huggins = hugginsScreen(v, () => unlock(), () => focusNext());
  const unlock = () => { proceed.disabled = !(played && huggins.done() && (!required || answered >= 3)); };
  const focusNext = () => {  // the next thing to do takes the focus (never lost to a button just disabled)
    const next = [toneButton, huggins.next(), played ? null : sampleButton, proceed].find(b => b && !b.disabled);
    (next || root.querySelector("h1")).focus();
  };
  const stopSample = () => { if (sampleSource) { sampleSource.stop(); sampleSource = null; } sampleButton.textContent = T("play_sample"); };
  sampleButton.addEventListener("click", () => {
    if (sampleSource) { stopSample(); log("stop", v.sample); return; }
    if (!S.buffers.sample) return;
    const c = ctx();
    sampleSource = c.createBufferSource();
    sampleSource.buffer = S.buffers.sample;
    sampleSource.loop = true;
    sampleSource.connect(c.destination);
    sampleSource.start();
    sampleButton.textContent = T("stop_sample");
    played = true;
    unlock();
    log("play", v.sample);
  });
  toneButton.addEventListener("click", () => {
    const c = ctx(), side = Math.random() < 0.5 ? -1 : 1, osc = c.createOscillator(), pan = c.createStereoPanner();
    const gain = c.createGain(), t = c.currentTime + MARGIN, peak = v.tone_amplitude || 0.05;
    osc.frequency.value = 500;
    pan.pan.value = side;
    gain.gain.setValueAtTime(0, t);
    gain.gain.setValueCurveAtTime(RISE.map(x => x * peak), t, 0.02);
    gain.gain.setValueAtTime(peak, t + 0.9);
    gain.gain.setValueCurveAtTime(FALL.map(x => x * peak), t + 0.9, 0.02);
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
    result.textContent = answered >= 3 ? T("lr_done", {correct}) : T("lr_round", {round: answered + 1});
    unlock();
    focusNext();
  };
  left.addEventListener("click", () => answer(-1));
  right.addEventListener("click", () => answer(1));
  const submission = () => {
    const check = answered >= 3 ? `headphone check ${correct === 3 ? "passed" : "failed"} ${correct}/3`
                                : "headphone check not done";
    return {level: `level set; ${check}`, huggins: huggins.answers(), events: S.events};
  };
  proceed.addEventListener("click", () => { stopSample(); huggins.stop(); S.lastSubmission = submission(); send(S.lastSubmission); });
  const skip = required ? null : h("button", {class: "m-skip", type: "button", onclick: () => {
    stopSample(); huggins.stop(); S.lastSubmission = {level: "skipped", events: S.events}; send(S.lastSubmission);
  }}, T("skip_checks"));
  show_(
    h("h1", {tabindex: "-1"}, T("check_title")),
    h("p", {}, T("check_level")),
    h("div", {class: "m-transport"}, sampleButton),
    h("h3", {}, T("lr_title")),
    h("p", {}, T("lr_text")),
    h("div", {class: "m-transport"}, toneButton, left, right, result),
    huggins.element,
    h("div", {class: "m-foot"}, proceed, skip,
      h("span", {class: "m-status", role: "status", "aria-live": "polite"}, T("loading"))),
    errorBox(),
    resumeLink(v));
  const state = S;
  fetch(audioUrl(v.sample), {cache: "no-store"})
    .then(r => { if (!r.ok) throw new Error(`HTTP ${r.status}`); return r.arrayBuffer(); })
    .then(data => ctx().decodeAudioData(data))
    .then(buffer => { if (S === state) { S.buffers.sample = buffer; S.ready = true; status(""); } })
    .catch(err => { if (S === state) alertError(T("load_failed", {reason: err.message})); });
}

function hugginsScreen(v, changed, finished) {  // the Huggins-pitch rounds: play a round, then choose the noise with the tone
  const keys = v.huggins || [];
  const answers = {};
  let round = 0, source = null;
  if (!keys.length) return {element: null, done: () => true, answers: () => ({}), stop: () => {}, next: () => null};
  const playButton = h("button", {class: "m-stim m-wide m-huggins-play", type: "button"}, "");
  const choices = [1, 2, 3].map(n => h("button", {class: "m-choice", type: "button", disabled: true,
                                                  "data-choice": String(n), onclick: () => choose(n)},
                                       T("huggins_choice", {n})));
  const progress = h("span", {class: "m-check", role: "status"}, "");
  const stopRound = () => { if (source) { source.onended = null; source.stop(); source = null; } };
  const update = () => {
    playButton.textContent = T("huggins_play", {round: Math.min(round + 1, keys.length), rounds: keys.length});
    playButton.disabled = round >= keys.length || !S.buffers["h" + round];
    if (round >= keys.length) progress.textContent = T("huggins_done");
  };
  playButton.addEventListener("click", () => {
    const buffer = S.buffers["h" + round];
    if (!buffer || source) return;
    const c = ctx();
    source = c.createBufferSource();
    source.buffer = buffer;
    source.connect(c.destination);
    source.onended = () => { source = null; choices.forEach(b => { b.disabled = false; }); };
    source.start();
    log("play", keys[round]);
  });
  const choose = n => {
    answers[keys[round]] = n;
    log("answer", keys[round], n);
    round += 1;
    choices.forEach(b => { b.disabled = true; });
    update();
    changed();
    if (round < keys.length) playButton.focus(); else finished();
  };
  const state = S;
  keys.forEach((key, i) => fetch(audioUrl(key), {cache: "no-store"})
    .then(r => { if (!r.ok) throw new Error(`HTTP ${r.status}`); return r.arrayBuffer(); })
    .then(data => ctx().decodeAudioData(data))
    .then(buffer => { if (S === state) { S.buffers["h" + i] = buffer; update(); } })
    .catch(err => { if (S === state) alertError(T("load_failed", {reason: err.message})); }));
  update();
  const element = h("div", {class: "m-huggins"}, h("h3", {}, T("huggins_title")), h("p", {}, T("huggins_text")),
                    h("div", {class: "m-transport"}, playButton),
                    h("div", {class: "m-transport", role: "group", "aria-label": T("huggins_title")}, ...choices, progress));
  return {element, done: () => round >= keys.length, answers: () => answers, stop: stopRound,
          next: () => (round < keys.length ? playButton : null)};
}

function completionParts(completion) {  // the platform's code (with a Copy button) and the way back, at once
  const parts = [];
  if (completion.code) {
    const done = h("span", {class: "m-copied", role: "status"}, "");
    const copy = h("button", {class: "m-copy", type: "button", onclick: () => {
      const copied = () => { done.textContent = T("copied"); };
      if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(completion.code).then(copied, () => selectCode(code));
      else { selectCode(code); document.execCommand && document.execCommand("copy") && copied(); }
    }}, T("copy_code"));
    const code = h("code", {class: "m-code-value"}, completion.code);
    const [before, after] = [...String(TEXTS.labels.completion_code || "{code}").split("{code}"), ""];
    parts.push(h("p", {class: "m-code"}, before, code, after, " ", copy, " ", done));
  }
  if (completion.url) parts.push(h("p", {}, h("a", {class: "m-complete", href: completion.url}, T("back_to_platform"))));
  return parts;
}
function selectCode(code) {
  const range = document.createRange();
  range.selectNodeContents(code);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}

function renderScreenedOut(v) {
  show_(h("h1", {tabindex: "-1"}, T("screened_out_title")), h("p", {class: "m-screened"}, T("screened_out_text")),
        ...completionParts(v.completion || {}));
}

function renderDone(v) {
  const completion = v.completion || {};
  const parts = [h("h1", {tabindex: "-1"}, T("end_title")),
                 h("p", {class: "m-done"}, T("end_saved", {trials: v.trials})),
                 TEXTS.end ? h("p", {class: "m-end"}, TEXTS.end) : null,
                 ...(v.answered ? [] : completionParts(completion))];
  if (!v.answered) {
    const fields = {};
    const comment = h("textarea", {id: "m-comment", rows: "4", maxlength: "2000"});
    fields.comment = () => comment.value;
    const form = h("form", {class: "m-questions"});
    for (const q of TEXTS.questionnaire || []) {
      const id = `m-q-${q.id}`;
      if (q.choices) {
        const options = q.choices.map((choice, i) => h("label", {class: "m-option"},
          h("input", {type: "radio", name: id, value: choice, id: `${id}-${i}`}), " ", choice));
        form.append(h("fieldset", {}, h("legend", {}, q.question), ...options));
        fields[q.id] = () => (form.querySelector(`input[name="${id}"]:checked`) || {}).value || "";
      } else {
        const input = h("input", {type: "text", id, maxlength: "2000"});
        form.append(h("p", {}, h("label", {for: id}, q.question), h("br"), input));
        fields[q.id] = () => input.value;
      }
    }
    form.append(h("p", {}, h("label", {for: "m-comment"}, T("comment")), h("br"), comment));
    const sendButton = h("button", {class: "m-next m-send", type: "submit"}, T("send_answers"));
    form.append(h("div", {class: "m-foot"}, sendButton,
                  h("span", {class: "m-status", role: "status", "aria-live": "polite"}, "")));
    form.addEventListener("submit", ev => {
      ev.preventDefault();
      const answers = {};
      for (const [key, read] of Object.entries(fields)) answers[key] = read();
      S.lastSubmission = {answers};
      send(S.lastSubmission);
    });
    parts.push(form, errorBox());
  } else {
    parts.push(h("p", {class: "m-answered", role: "status"}, T("answers_saved")), ...completionParts(completion));
    if (completion.url) {
      parts.push(h("p", {role: "status"}, T("redirecting")));
      setTimeout(() => window.location.assign(completion.url), 1500);
    }
  }
  show_(...parts);
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
    if (v.error) failed(v.error); else { S.submitting = false; clearTimeout(S.timer); refresh(); }
    return;
  }
  teardown();  // a trial the server moved on from is forgotten by `restore` or on the end page
  S = {id: screenId(v), screen: v, buffers: {}, widgets: {}, ready: false, playing: false, node: null,
       current: null, pausedAt: 0, startCtx: 0, startPos: 0, loop: [0, 0], duration: 0,
       ratings: {}, lastRateLog: {}, events: [], t0: performance.now(), submitting: false, drag: null,
       pending: null, lastSubmission: null,
       clientId: Math.random().toString(36).slice(2) + Date.now().toString(36)};
  rememberToken(v);
  if (v.screen === "trial") renderTrial(v);
  else if (v.screen === "level") renderLevel(v);
  else if (v.screen === "screened_out") { forget(v); renderScreenedOut(v); }
  else { forget(v); renderDone(v); }
  if (v.error) alertError(v.error);
}

function interactive(target) {
  if (!target || target === document.body || !target.closest) return false;
  return !!target.closest("button, a[href], input, textarea, select, [contenteditable], [role=button], [role=slider]");
}
function typing(target) {
  return !!(target && target.closest && target.closest("textarea, input:not([type=range]):not([type=radio]), [contenteditable]"));
}

function onKey(ev) {
  if (!S || !root.isConnected || S.screen.screen !== "trial" || ev.defaultPrevented) return;
  const target = ev.target, key = ev.key;
  if (typing(target) || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (key === " " || key === "Enter") {
    if (interactive(target)) return;  // a focused control does what it says
    ev.preventDefault();
    if (key === " ") togglePlay(); else submitTrial();
    return;
  }
  if (key === "Escape") { if (S.ready) { setLoop(0, S.duration); refresh(); } return; }
  if (!S.ready) return;
  if (key === "[") { setLoop(positionAt(ctx().currentTime), S.loop[1]); return; }
  if (key === "]") { setLoop(S.loop[0], positionAt(ctx().currentTime)); return; }
  if (key === "ArrowLeft" || key === "ArrowRight") {
    if (target && target.type === "range") return;  // the slider's own keys
    ev.preventDefault();
    seek(positionAt(ctx().currentTime) + (key === "ArrowLeft" ? -1 : 1));
    return;
  }
  if (key.length !== 1) return;
  const upper = key.toUpperCase();
  if (upper === "R") { if (S.screen.reference) select(S.screen.reference); return; }
  const stimulus = S.screen.stimuli.find(s => s.label === upper);
  if (stimulus) select(stimulus.key);
}

document.addEventListener("keydown", onKey);
window.addEventListener("beforeunload", ev => {
  if (S && S.screen.screen === "trial" && (Object.keys(S.ratings).length || S.pending) && !S.submitting) {
    ev.preventDefault();
    ev.returnValue = "";
  }
});
watch("value", show);
show();
