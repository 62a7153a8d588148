// The annotator page: loads a video, keeps the editing state, saves every change at once.
//
// Edits go through the save queue (saving.js), each naming its interval by value; the server
// applies the interval rules to the file as it is now and answers with the saved file. "Saved
// rev N" appears only when nothing is waiting, so what the page calls saved is on disk. Other
// annotators' saves are picked up by polling the revision once a second.

import { api } from "./api.js";
import { FrameCache, FrameView } from "./frameview.js";
import { labelColour, labelIndexOfEvent, labelKey } from "./labels.js";
import { SaveQueue } from "./saving.js";
import { Timeline, reviewState, sameInterval } from "./timeline.js";

const AUTHOR_KEY = "uecity.annotator.author";
const POLL_MS = 1000;
const SPEEDS = [0.25, 0.5, 1, 2, 4];
const $ = (selector) => document.querySelector(selector);

const state = {
  videos: [],
  video: null,
  frame: 0, // the frame asked for last
  shown: 0, // the frame whose picture and boxes are on the canvas (the counter shows it)
  playing: false,
  speed: 1,
  labels: [],
  label: null,
  author: localStorage.getItem(AUTHOR_KEY) || "",
  motion: { revision: 0, intervals: [], history: [] },
  readOnly: null, // why the video cannot be edited, or null
  selected: null, // the selected interval (a value, found again after every save)
  pending: null, // {track, frame, label}: the first click of an interval
  hover: null,
  undo: [],
  redo: [],
  showTexts: true,
  view: { collapsed: new Set(), hidden: new Set(), category: "", label: "", state: "" },
};

let view, timeline, frames, queue;
let requestSeq = 0; // every show() gets a number; a picture older than the one shown is dropped
let shownSeq = 0;
let lastAsked = 0; // the frame asked for before, for the direction and pace of preloading
let byTrack = new Map();

// --- status line and messages
function setSaveStatus(text, kind) {
  const element = $("#save-status");
  element.textContent = text;
  element.dataset.kind = kind;
}

function savedStatus() {
  if (state.readOnly) setSaveStatus("Not editable", "conflict");
  else if (!queue.pending) setSaveStatus(`Saved rev ${state.motion.revision}`, "saved");
}

function say(text, kind = "info") {
  const element = $("#message");
  element.textContent = text;
  element.dataset.kind = kind;
}

// --- drawing
function activeLabels(trackId, frame) {
  const list = byTrack.get(trackId);
  if (!list) return [];
  return list.filter((i) => i.start <= frame && frame <= i.end).map((i) => i.label);
}

function trackVisible(trackId) {
  if (state.view.hidden.has(trackId)) return false;
  if (!state.view.category) return true;
  const track = state.video.tracks.find((t) => t.track_id === trackId);
  return !track || track.category === state.view.category;
}

function frameMarks() {
  return {
    hover: state.hover,
    selected: state.selected ? state.selected.track_id : null,
    pending: state.pending ? state.pending.track : null,
    activeLabels,
    showTexts: state.showTexts,
  };
}

/** Show `frame`: the counter changes with the picture, never before it. */
async function show(frame) {
  const video = state.video;
  frame = Math.max(0, Math.min(video.num_frames - 1, frame));
  state.frame = frame;
  const seq = ++requestSeq;
  $("#scrubber").value = String(frame);
  $("#frame-number").dataset.loading = frame === state.shown ? "" : `→ ${frame}`;
  // preload where the user is going, at the pace they go: the next frames when stepping,
  // every tenth frame when scrubbing by tens (decoding frames nobody asks for slows the rest)
  const stride = Math.max(-50, Math.min(50, frame - lastAsked)) || 1;
  lastAsked = frame;
  frames.preload(
    Array.from({ length: Math.abs(stride) === 1 ? 6 : 3 }, (_, k) => frame + (k + 1) * stride)
      .filter((f) => f >= 0 && f < video.num_frames),
  );
  let image = null;
  try {
    image = await frames.get(frame);
  } catch (error) {
    say(error.message, "error");
    return;
  }
  // a picture asked for after the one on screen is drawn even if a newer one is on its way:
  // scrubbing shows every frame that arrives in time, in order, never one going back
  if (seq <= shownSeq || state.video !== video) return;
  shownSeq = seq;
  state.shown = frame;
  view.draw(frame, image, frameMarks());
  $("#frame-number").textContent = `${frame} / ${video.num_frames - 1}`;
  $("#frame-number").dataset.loading = seq === requestSeq ? "" : `→ ${state.frame}`;
  timeline.setFrame(frame);
  writeHash();
}

function redraw() {
  view.draw(state.shown, null, frameMarks());
  timeline.update(
    state.motion.intervals,
    state.labels,
    { hover: state.hover, selected: state.selected, pending: state.pending },
    state.view,
  );
  renderSelection();
  renderReview();
}

function writeHash() {
  const hash = `#video=${encodeURIComponent(state.video.video_id)}&frame=${state.shown}`;
  if (location.hash !== hash) history.replaceState(null, "", hash);
}

function readHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  return { video: params.get("video"), frame: Number.parseInt(params.get("frame") || "0", 10) || 0 };
}

// --- labels
function renderLabels() {
  const list = $("#labels");
  const filter = $("#label-search").value.trim().toLowerCase();
  list.replaceChildren();
  state.labels.forEach((label, index) => {
    if (filter && !label.toLowerCase().includes(filter)) return;
    const button = document.createElement("button");
    button.className = "label" + (label === state.label ? " active" : "");
    button.dataset.label = label;
    button.style.setProperty("--label-colour", labelColour(state.labels, label));
    const key = labelKey(index);
    const keyText = document.createElement("kbd");
    keyText.textContent = key ? key.replace("Shift+", "⇧").replace("Alt+", "⌥") : "";
    button.append(keyText, document.createTextNode(label));
    button.title = key ? `Key ${key}` : "Pick with L (search)";
    button.addEventListener("click", () => pickLabel(label));
    list.append(button);
  });
  const options = (first) => [new Option(first, ""), ...state.labels.map((l) => new Option(l, l))];
  const filterSelect = $("#filter-label");
  const keep = filterSelect.value;
  filterSelect.replaceChildren(...options("all labels"));
  filterSelect.value = state.labels.includes(keep) ? keep : "";
  $("#relabel").replaceChildren(...state.labels.map((l) => new Option(l, l)));
}

function pickLabel(label) {
  state.label = label;
  if (state.pending) state.pending.label = label;
  renderLabels();
  renderSelection();
}

async function addLabel() {
  const input = $("#new-label");
  const label = input.value.trim();
  if (!label) return;
  try {
    const vocabulary = await api.addMotionLabel(label);
    state.labels = vocabulary.motion_labels;
    input.value = "";
    input.blur();
    pickLabel(label);
    say(`added the motion label '${label}' to the dataset`);
  } catch (error) {
    say(`Label not added: ${error.message}`, "error");
  }
}

// --- the selected interval
function renderSelection() {
  const interval = state.selected;
  $("#selection-none").hidden = !!interval;
  $("#selection-body").hidden = !interval;
  if (interval) {
    const review = reviewState(interval);
    $("#selection-text").title = $("#selection-text").textContent =
      `track ${interval.track_id} · ${interval.label} · ${interval.start}–${interval.end} · ` +
      `${review}` + (interval.author ? ` (${interval.author})` : "");
    $("#accept").disabled = review !== "unreviewed";
    $("#relabel").value = interval.label;
    $("#accept-track").textContent = `Accept track ${interval.track_id}`;
  }
  const pending = state.pending;
  $("#pending").textContent = pending
    ? `Start of '${pending.label}' on track ${pending.track} at frame ${pending.frame}: ` +
      "step to where it ends and click the same box (Esc cancels)"
    : state.label
      ? `Label '${state.label}': click a box where the motion starts`
      : "Add a motion label to start";
}

function select(interval) {
  state.selected = interval;
  if (interval) timeline.reveal(interval);
  redraw();
}

/** The selection found again in the current intervals (by value), or null if gone. */
function refindSelection() {
  if (!state.selected) return;
  const s = state.selected;
  state.selected =
    state.motion.intervals.find((i) => sameInterval(i, s)) ||
    state.motion.intervals.find(
      (i) => i.track_id === s.track_id && i.label === s.label && i.start <= s.end && s.start <= i.end,
    ) ||
    null;
}

// --- review: progress, next unreviewed, bulk accept
function renderReview() {
  const counts = { unreviewed: 0, accepted: 0, corrected: 0 };
  const perLabel = new Map();
  for (const interval of state.motion.intervals) {
    const review = reviewState(interval);
    counts[review] += 1;
    const entry = perLabel.get(interval.label) || { unreviewed: 0, total: 0 };
    entry.total += 1;
    if (review === "unreviewed") entry.unreviewed += 1;
    perLabel.set(interval.label, entry);
  }
  const total = state.motion.intervals.length;
  const done = total - counts.unreviewed;
  $("#progress").textContent =
    `${done}/${total} reviewed · ${counts.unreviewed} left · ` +
    `${counts.accepted} accepted · ${counts.corrected} corrected`;
  $("#progress-bar").style.width = `${total ? (100 * done) / total : 100}%`;
  const rows = [...perLabel.entries()].sort(
    (a, b) => state.labels.indexOf(a[0]) - state.labels.indexOf(b[0]),
  );
  $("#per-label").replaceChildren(
    ...rows.map(([label, entry]) => {
      const row = document.createElement("tr");
      const name = document.createElement("td");
      name.textContent = label;
      name.style.borderLeft = `4px solid ${labelColour(state.labels, label)}`;
      const left = document.createElement("td");
      left.textContent = `${entry.unreviewed} / ${entry.total}`;
      row.append(name, left);
      return row;
    }),
  );
  const option = $("#video-select").selectedOptions[0];
  if (option) option.textContent = `${state.video.video_id} · ${counts.unreviewed} to review`;
}

const reviewOrder = (a, b) =>
  a.start - b.start || a.track_id - b.track_id || state.labels.indexOf(a.label) - state.labels.indexOf(b.label);

function nextUnreviewed(direction = 1) {
  const candidates = state.motion.intervals
    .filter((i) => reviewState(i) === "unreviewed" && timeline.shown(i) && trackVisible(i.track_id))
    .sort(reviewOrder);
  if (!candidates.length) {
    say("Nothing left to review here (with the filters on).");
    return;
  }
  const current = state.selected || { start: state.shown, track_id: -1, label: "" };
  let next;
  if (direction > 0) next = candidates.find((i) => reviewOrder(i, current) > 0) || candidates[0];
  else next = [...candidates].reverse().find((i) => reviewOrder(i, current) < 0) || candidates.at(-1);
  select(next);
  show(next.start);
}

// --- saving
function rebuildIndex() {
  byTrack = new Map();
  for (const interval of state.motion.intervals) {
    if (!byTrack.has(interval.track_id)) byTrack.set(interval.track_id, []);
    byTrack.get(interval.track_id).push(interval);
  }
}

function applyMotion(motion) {
  state.motion = motion;
  rebuildIndex();
}

function onSaved(answer, change) {
  const before = state.motion;
  applyMotion(answer.motion);
  if (answer.motion.revision > before.revision + 1) {
    // merged onto someone else's save: an undo to `before` would revert their work too
    state.undo = [];
    state.redo = [];
  } else if (change.history !== false && answer.motion.revision === before.revision + 1) {
    state.undo.push(before.intervals);
    state.redo = [];
  }
  if (change.after) change.after(answer);
  // the selection follows the edited interval, unless the user selected another meanwhile
  if (change.target && sameInterval(state.selected, change.target)) {
    state.selected = answer.selected || null;
  } else if (!change.target && answer.selected && !state.selected) {
    state.selected = answer.selected; // a new mark
  } else refindSelection();
  if (answer.message) say(answer.message, /merged onto/.test(answer.message) ? "merged" : "info");
  savedStatus();
  redraw();
}

async function onRefused(error, change) {
  if (change.undone) change.undone();
  say(`Not saved: ${error.message}`, "error");
  if (error.status === 409) await refreshMotion(true);
  savedStatus();
  redraw();
}

function canEdit() {
  if (state.readOnly) {
    say(`This video cannot be edited: ${state.readOnly}`, "error");
    return false;
  }
  if (!state.author) {
    askAuthor();
    return false;
  }
  return true;
}

/** Queue an edit; `target` is the interval it edits (bound by value, not by position). */
function edit(body, target) {
  if (!canEdit()) return;
  const videoId = state.video.video_id;
  queue.push({
    target,
    send: (current) =>
      api.edit(videoId, state.motion.revision, state.author, current ? { ...body, target: current } : body),
  });
}

function editSelected(body) {
  const interval = state.selected;
  if (!interval) return;
  if (body.edit === "delete") state.selected = null; // a second Delete has nothing to delete
  edit(body, interval);
  redraw();
}

function moveSelectedEnd(edge) {
  const interval = state.selected;
  if (!interval) return;
  const track = state.video.tracks.find((t) => t.track_id === interval.track_id);
  let frame = state.shown;
  if (track && track.first_frame !== null) {
    frame = Math.min(track.last_frame, Math.max(track.first_frame, frame));
  }
  editSelected({ edit: "move", [edge]: frame });
}

function acceptAll(filter) {
  edit({ edit: "accept_all", ...filter });
}

function restore(fromStack, toStack, word) {
  if (!fromStack.length) {
    say(`nothing to ${word}`);
    return;
  }
  if (!canEdit()) return;
  const target = fromStack.pop();
  const videoId = state.video.video_id;
  let current = null;
  queue.push({
    history: false,
    send: async () => {
      current = state.motion.intervals;
      const answer = await api.putMotion(videoId, state.motion.revision, target);
      return { ...answer, message: `${word}: back to ${target.length} intervals` };
    },
    after: () => toStack.push(current),
    undone: () => fromStack.push(target),
  });
}

const undo = () => restore(state.undo, state.redo, "undo");
const redo = () => restore(state.redo, state.undo, "redo");

/** Fetch the saved intervals (and labels) if another page or process saved meanwhile. */
async function refreshMotion(force = false) {
  const video = state.video;
  if (!video || state.readOnly) return;
  let latest;
  try {
    latest = await api.revision(video.video_id);
  } catch (error) {
    return; // the poll says nothing; saves say "Not saved" themselves
  }
  if (latest.motion_labels.join("\n") !== state.labels.join("\n")) {
    state.labels = latest.motion_labels;
    if (!state.labels.includes(state.label)) state.label = state.labels[0] || null;
    renderLabels();
  }
  if (!force && (queue.pending || latest.revision === state.motion.revision)) return;
  const motion = await api.motion(video.video_id);
  if (state.video !== video || (!force && queue.pending)) return;
  const changed = motion.revision !== state.motion.revision;
  applyMotion(motion);
  refindSelection();
  if (changed) {
    if (state.undo.length || state.redo.length) {
      say(`Revision ${motion.revision} was saved by someone else and is shown; undo starts afresh.`, "merged");
    }
    state.undo = [];
    state.redo = [];
  }
  savedStatus();
  redraw();
}

// --- the frame: click a box, drag to pan, wheel to zoom
let press = null;

function onFrameDown(event) {
  if (event.button !== 0) return;
  press = { x: event.clientX, y: event.clientY, panned: false };
}

function onFrameMove(event) {
  if (press && event.buttons & 1) {
    const dx = event.clientX - press.x, dy = event.clientY - press.y;
    if (press.panned || Math.hypot(dx, dy) > 4) {
      if (view.zoom > 1) {
        const k = view.imagePerCssPixel();
        view.panBy(dx * k, dy * k);
        press = { x: event.clientX, y: event.clientY, panned: true };
        view.draw(state.shown, null, frameMarks());
      }
      return;
    }
  }
  const [x, y] = view.imagePoint(event);
  setHover(view.hitTest(state.shown, x, y));
}

function onFrameUp(event) {
  if (!press || event.button !== 0) return;
  const panned = press.panned;
  press = null;
  if (!panned) clickFrame(event);
}

function onWheel(event) {
  event.preventDefault();
  view.zoomAt(event.deltaY < 0 ? 1.25 : 0.8, view.imagePoint(event));
  view.draw(state.shown, null, frameMarks());
  $("#zoom").textContent = `${view.zoom.toFixed(1)}×`;
}

function zoomBy(factor) {
  if (factor === 0) view.resetZoom();
  else view.zoomAt(factor, null);
  view.draw(state.shown, null, frameMarks());
  $("#zoom").textContent = `${view.zoom.toFixed(1)}×`;
}

function clickFrame(event) {
  const frame = state.shown; // the frame on screen, whatever is still loading
  const [x, y] = view.imagePoint(event);
  const track = view.hitTest(frame, x, y);
  if (track === null) {
    if (!state.pending) select(null);
    return;
  }
  if (!state.label) {
    say("Pick or add a motion label first.", "error");
    return;
  }
  const pending = state.pending;
  if (pending && pending.frame === frame && !event.shiftKey) {
    // clicking again where the first click was: the next box under the pointer (the car
    // behind the one that won the click), or, with none, a reminder to step first
    const hits = view.hitAll(frame, x, y);
    const next = hits[(hits.indexOf(pending.track) + 1) % hits.length];
    if (hits.length > 1 && hits.includes(pending.track)) {
      state.pending = { ...pending, track: next };
      say(`Start moved to track ${next}, the next box under the pointer (click again to cycle).`);
      redraw();
      return;
    }
    if (pending.track === track) {
      say("Same frame as the first click: step to where the motion ends (Shift+click marks one frame).");
      return;
    }
  }
  if (pending && pending.track === track) {
    state.pending = null;
    edit({
      edit: "mark",
      track_id: track,
      label: pending.label,
      first_click: pending.frame,
      second_click: frame,
    });
    redraw();
    return;
  }
  if (pending) say(`Started over on track ${track} (was track ${pending.track})`);
  state.pending = { track, frame, label: state.label };
  redraw();
}

function setHover(track) {
  if (track === state.hover) return;
  state.hover = track;
  view.canvas.style.cursor = track === null ? (view.zoom > 1 ? "grab" : "default") : "pointer";
  redraw();
}

// --- tracks: collapse their lanes, hide them
function toggleCollapsed(trackId) {
  const set = state.view.collapsed;
  if (set.has(trackId)) set.delete(trackId);
  else set.add(trackId);
  redraw();
}

function toggleHidden(trackId) {
  const set = state.view.hidden;
  if (set.has(trackId)) set.delete(trackId);
  else set.add(trackId);
  if (state.pending && set.has(state.pending.track)) state.pending = null;
  renderHidden();
}

function showAllTracks() {
  state.view.hidden.clear();
  renderHidden();
}

function renderHidden() {
  const count = state.view.hidden.size;
  $("#show-all").textContent = `Show all${count ? ` (${count} hidden)` : ""}`;
  redraw();
}

const focusTrack = () => (state.selected ? state.selected.track_id : state.hover);

// --- playback
function setSpeed(speed) {
  state.speed = speed;
  $("#speed").value = String(speed);
}

function togglePlay() {
  state.playing = !state.playing;
  $("#play").textContent = state.playing ? "❚❚" : "▶";
  if (state.playing) play();
}

async function play() {
  while (state.playing) {
    const started = performance.now();
    if (state.frame >= state.video.num_frames - 1) break;
    await show(state.frame + 1);
    const wait = 1000 / (state.video.fps * state.speed) - (performance.now() - started);
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
  state.playing = false;
  $("#play").textContent = "▶";
}

const step = (delta) => show(state.frame + delta);

// --- keyboard: one table, also the shortcut sheet
const KEYS = [
  ["Space", "play / pause"],
  ["← →", "previous / next frame (Shift: 10)"],
  ["PgUp PgDn · Home End", "10 frames · first / last frame"],
  ["< >", "slower / faster playback"],
  ["1…9 0 · ⇧1…0 · ⌥1…0", "pick label 1–10 · 11–20 · 21–30"],
  ["L", "find a label by name"],
  ["click a box twice", "start, then end an interval (Shift+click: one frame)"],
  ["click the same spot again", "the next box under the pointer (the one behind)"],
  ["Esc", "cancel the started interval, clear the selection"],
  ["N · Shift+N", "next / previous unreviewed interval"],
  ["A", "accept the selected automatic interval"],
  ["Shift+A", "accept every unreviewed interval of its track"],
  ["[ ]", "move its start / end to this frame"],
  ["Del", "delete it"],
  ["C", "collapse / expand the track's lanes"],
  ["H · Shift+H", "hide the track · show all tracks"],
  ["T", "label texts on the boxes on / off"],
  ["wheel · + − · Z", "zoom the frame · reset (drag to pan)"],
  ["Ctrl+Z · Ctrl+Shift+Z", "undo / redo"],
  ["?", "this sheet"],
];

function renderHelp() {
  $("#help-table").replaceChildren(
    ...KEYS.map(([key, what]) => {
      const row = document.createElement("tr");
      const k = document.createElement("td");
      k.textContent = key;
      const w = document.createElement("td");
      w.textContent = what;
      row.append(k, w);
      return row;
    }),
  );
}

const isTyping = (target) =>
  (target instanceof HTMLInputElement && !["range", "checkbox", "button"].includes(target.type)) ||
  target instanceof HTMLTextAreaElement;

function onKey(event) {
  const target = event.target;
  if (!$("#author-dialog").hidden) return;
  if (isTyping(target)) {
    if (event.key === "Escape") target.blur();
    return;
  }
  const ctrl = event.ctrlKey || event.metaKey;
  const key = event.key;
  const letter = key.length === 1 ? key.toLowerCase() : ""; // Shift, not Caps Lock, decides
  const labelIndex = labelIndexOfEvent(event);
  let handled = true;
  if (ctrl && (key === "z" || key === "Z")) {
    if (event.shiftKey) redo();
    else undo();
  } else if (ctrl && (key === "y" || key === "Y")) redo();
  else if (ctrl) handled = false;
  else if (labelIndex !== null) {
    const label = state.labels[labelIndex];
    if (label) pickLabel(label);
  } else if (key === " ") togglePlay();
  else if (key === "ArrowRight") step(event.shiftKey ? 10 : 1);
  else if (key === "ArrowLeft") step(event.shiftKey ? -10 : -1);
  else if (key === "ArrowUp" || key === "ArrowDown") handled = true; // never a menu's
  else if (key === "PageDown") step(10);
  else if (key === "PageUp") step(-10);
  else if (key === "Home") show(0);
  else if (key === "End") show(state.video.num_frames - 1);
  else if (key === "Delete" || key === "Backspace") editSelected({ edit: "delete" });
  else if (key === "Escape") {
    state.pending = null;
    $("#help").hidden = true;
    select(null);
  } else if (letter === "a" && !event.shiftKey) {
    if (state.selected && reviewState(state.selected) === "unreviewed") editSelected({ edit: "accept" });
  } else if (letter === "a") {
    if (state.selected) acceptAll({ track_id: state.selected.track_id });
  } else if (key === "[") moveSelectedEnd("start");
  else if (key === "]") moveSelectedEnd("end");
  else if (letter === "n") nextUnreviewed(event.shiftKey ? -1 : 1);
  else if (letter === "c") {
    if (focusTrack() !== null) toggleCollapsed(focusTrack());
  } else if (letter === "h" && !event.shiftKey) {
    if (focusTrack() !== null) toggleHidden(focusTrack());
  } else if (letter === "h") showAllTracks();
  else if (letter === "t") {
    state.showTexts = !state.showTexts;
    $("#show-texts").checked = state.showTexts;
    redraw();
  } else if (key === "+" || key === "=") zoomBy(1.25);
  else if (key === "-") zoomBy(0.8);
  else if (letter === "z") zoomBy(0);
  else if (key === "<" || key === ">") {
    const index = SPEEDS.indexOf(state.speed) + (key === ">" ? 1 : -1);
    setSpeed(SPEEDS[Math.max(0, Math.min(SPEEDS.length - 1, index))]);
    say(`playback at ${state.speed}×`);
  } else if (letter === "l") $("#label-search").focus();
  else if (key === "?") $("#help").hidden = !$("#help").hidden;
  else handled = false;
  if (handled) {
    event.preventDefault();
    event.stopPropagation();
  }
}

// --- the annotator's name
function askAuthor() {
  $("#author-input").value = state.author;
  $("#author-dialog").hidden = false;
  $("#author-input").focus();
}

function saveAuthor(event) {
  event.preventDefault();
  const name = $("#author-input").value.trim();
  if (!name) return;
  state.author = name;
  localStorage.setItem(AUTHOR_KEY, name);
  $("#author").textContent = name;
  $("#author-dialog").hidden = true;
  $("#author-input").blur();
}

// --- loading
async function openVideo(videoId, frame = 0) {
  state.playing = false;
  const video = await api.video(videoId);
  let motion = { revision: 0, intervals: [], history: [] };
  state.readOnly = null;
  try {
    motion = await api.motion(videoId);
  } catch (error) {
    state.readOnly = error.message;
  }
  state.video = video;
  state.selected = null;
  state.pending = null;
  state.undo = [];
  state.redo = [];
  state.view.collapsed.clear();
  state.view.hidden.clear();
  $("#show-all").textContent = "Show all";
  $("#conflict").hidden = !state.readOnly;
  $("#conflict-text").textContent = state.readOnly
    ? `Video ${videoId} cannot be edited: ${state.readOnly}. Fix the file (see \`uecity validate\`) and reload; other videos work.`
    : "";
  $("#video-select").value = videoId;
  applyMotion(motion);
  frames = new FrameCache((f) => api.frameUrl(videoId, f));
  view.setVideo(video);
  view.isVisible = trackVisible;
  timeline.setVideo(video);
  state.shown = -1;
  shownSeq = requestSeq;
  $("#scrubber").max = String(Math.max(0, video.num_frames - 1));
  $("#video-facts").textContent =
    `${video.width}×${video.height} · ${video.fps} fps · ${video.tracks.length} tracks`;
  $("#zoom").textContent = "1.0×";
  savedStatus();
  redraw();
  await show(frame);
}

function bindControls() {
  view.canvas.addEventListener("mousedown", onFrameDown);
  view.canvas.addEventListener("mousemove", onFrameMove);
  window.addEventListener("mouseup", onFrameUp);
  view.canvas.addEventListener("mouseleave", () => setHover(null));
  view.canvas.addEventListener("wheel", onWheel, { passive: false });
  window.addEventListener("keydown", onKey, true); // capture: before any control acts on it
  $("#play").addEventListener("click", togglePlay);
  $("#prev").addEventListener("click", () => step(-1));
  $("#next").addEventListener("click", () => step(1));
  $("#scrubber").addEventListener("input", (event) => show(Number(event.target.value)));
  $("#speed").replaceChildren(...SPEEDS.map((s) => new Option(`${s}×`, String(s))));
  $("#speed").value = "1";
  $("#speed").addEventListener("change", (event) => setSpeed(Number(event.target.value)));
  $("#add-label").addEventListener("submit", (event) => {
    event.preventDefault();
    addLabel();
  });
  $("#label-search").addEventListener("input", renderLabels);
  $("#label-search").addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault();
    const first = $("#labels .label");
    if (first) pickLabel(first.dataset.label);
    event.target.value = "";
    event.target.blur();
    renderLabels();
  });
  $("#author").addEventListener("click", askAuthor);
  $("#author-form").addEventListener("submit", saveAuthor);
  $("#accept").addEventListener("click", () => editSelected({ edit: "accept" }));
  $("#accept-track").addEventListener("click", () =>
    state.selected && acceptAll({ track_id: state.selected.track_id }));
  $("#accept-label").addEventListener("click", () => {
    const label = state.view.label || (state.selected && state.selected.label);
    if (label) acceptAll({ label });
    else say("Pick a label in the filter (or select an interval) to accept all of it.", "error");
  });
  $("#set-start").addEventListener("click", () => moveSelectedEnd("start"));
  $("#set-end").addEventListener("click", () => moveSelectedEnd("end"));
  $("#delete").addEventListener("click", () => editSelected({ edit: "delete" }));
  $("#relabel").addEventListener("change", (event) =>
    editSelected({ edit: "relabel", label: event.target.value }));
  $("#next-unreviewed").addEventListener("click", () => nextUnreviewed(1));
  $("#filter-category").addEventListener("change", (event) => {
    state.view.category = event.target.value;
    redraw();
  });
  $("#filter-label").addEventListener("change", (event) => {
    state.view.label = event.target.value;
    redraw();
  });
  $("#filter-state").addEventListener("change", (event) => {
    state.view.state = event.target.value;
    redraw();
  });
  $("#show-texts").addEventListener("change", (event) => {
    state.showTexts = event.target.checked;
    redraw();
  });
  $("#show-all").addEventListener("click", showAllTracks);
  $("#collapse-all").addEventListener("click", () => {
    const all = state.view.collapsed.size < state.video.tracks.length;
    state.view.collapsed = new Set(all ? state.video.tracks.map((t) => t.track_id) : []);
    redraw();
  });
  $("#undo").addEventListener("click", undo);
  $("#redo").addEventListener("click", redo);
  $("#reload").addEventListener("click", () => openVideo(state.video.video_id, state.shown));
  $("#help-button").addEventListener("click", () => ($("#help").hidden = !$("#help").hidden));
  $("#help-close").addEventListener("click", () => ($("#help").hidden = true));
  $("#video-select").addEventListener("change", (event) => openVideo(event.target.value));
  // A control used with the mouse gives the keyboard back at once: arrows then step frames
  // instead of changing a menu, Space plays instead of pressing the button again.
  document.addEventListener("change", (event) => {
    if (event.target instanceof HTMLSelectElement || event.target.type === "checkbox") event.target.blur();
  });
  document.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest("button");
    if (button) button.blur();
  });
}

async function main() {
  view = new FrameView($("#frame"));
  timeline = new Timeline($("#timeline"), {
    onSeek: (frame) => show(frame),
    onSelect: (interval) => select(interval),
    onHover: (track) => setHover(track),
    onMoveEnd: (interval, ends) => {
      state.selected = interval;
      edit({ edit: "move", ...ends }, interval);
    },
    onCollapse: toggleCollapsed,
    onHide: toggleHidden,
  });
  queue = new SaveQueue({ onStatus: setSaveStatus, onSaved, onRefused });
  bindControls();
  renderHelp();

  const [listing, vocabulary] = await Promise.all([api.videos(), api.vocabulary()]);
  state.videos = listing.videos;
  state.labels = vocabulary.motion_labels;
  state.label = state.labels[0] || null;
  $("#dataset-name").textContent = listing.dataset;
  $("#video-select").replaceChildren(
    ...listing.videos.map((v) => {
      const review = v.review ? ` · ${v.review.unreviewed} to review` : v.error || v.motion_error ? " · broken" : "";
      return new Option(`${v.video_id}${review}`, v.video_id);
    }),
  );
  renderLabels();
  $("#author").textContent = state.author || "(who are you?)";
  if (!state.author) askAuthor();
  const usable = listing.videos.filter((v) => !v.error);
  if (!usable.length) {
    setSaveStatus("No videos", "conflict");
    say("This dataset has no videos that can be opened.", "error");
    return;
  }
  const wanted = readHash();
  const known = usable.some((v) => v.video_id === wanted.video);
  await openVideo(known ? wanted.video : usable[0].video_id, wanted.frame);
  setInterval(() => {
    if (document.visibilityState === "visible") refreshMotion().catch(() => {});
  }, POLL_MS);
}

// A small handle for tests and the benchmark (no effect on the page).
window.annotator = {
  state,
  show,
  step,
  get timeline() {
    return timeline;
  },
  get view() {
    return view;
  },
  select: (interval) => select(interval),
  pending: () => queue.pending,
  hitTest: (x, y) => view.hitTest(state.shown, x, y),
  ready: main().then(
    () => performance.now(),
    (error) => {
      setSaveStatus("Not started", "conflict");
      say(`The annotator could not start: ${error.message}`, "error");
      throw error;
    },
  ),
};
