// The annotator page: loads a video, keeps the editing state, saves every change at once.
//
// Edits go to the server one at a time (a queue), each based on the revision the page last
// saw; the server applies the interval rules and answers with the saved file. "Saved rev N"
// appears only after the server has written the file, so what the page calls saved is on disk.

import { api } from "./api.js";
import { FrameCache, FrameView, labelColour } from "./frameview.js";
import { Timeline } from "./timeline.js";

const AUTHOR_KEY = "uecity.annotator.author";
const $ = (selector) => document.querySelector(selector);

const state = {
  videos: [],
  video: null,
  frame: 0,
  playing: false,
  labels: [],
  label: null,
  author: localStorage.getItem(AUTHOR_KEY) || "",
  motion: { revision: 0, intervals: [] },
  selected: null,
  pending: null, // {track, frame, label}: the first click of an interval
  hover: null,
  undo: [],
  redo: [],
  conflict: false,
};

let view, timeline, frames;
let queue = Promise.resolve();
let drawToken = 0;
let byTrack = new Map();

// --- status line and messages
function setSaveStatus(text, kind) {
  const element = $("#save-status");
  element.textContent = text;
  element.dataset.kind = kind;
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

function marks() {
  const selected = state.motion.intervals[state.selected];
  return {
    hover: state.hover,
    selected: selected ? selected.track_id : null,
    pending: state.pending ? state.pending.track : null,
    activeLabels,
  };
}

function timelineMarks() {
  return { hover: state.hover, selected: state.selected, pending: state.pending };
}

/** Show `frame`; resolves once its image and boxes are on the canvas. */
async function show(frame) {
  const video = state.video;
  frame = Math.max(0, Math.min(video.num_frames - 1, frame));
  state.frame = frame;
  const token = ++drawToken;
  $("#frame-number").textContent = `${frame} / ${video.num_frames - 1}`;
  $("#scrubber").value = String(frame);
  timeline.setFrame(frame);
  frames.preload(Array.from({ length: 6 }, (_, k) => frame + k + 1).filter((f) => f < video.num_frames));
  let image = null;
  try {
    image = await frames.get(frame);
  } catch (error) {
    say(error.message, "error");
  }
  if (token !== drawToken || state.video !== video) return; // a later frame was asked for
  view.draw(frame, image, marks());
  writeHash();
}

function redraw() {
  view.draw(state.frame, null, marks());
  timeline.update(state.motion.intervals, state.labels, timelineMarks());
  renderSelection();
}

function writeHash() {
  const hash = `#video=${encodeURIComponent(state.video.video_id)}&frame=${state.frame}`;
  if (location.hash !== hash) history.replaceState(null, "", hash);
}

function readHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  return { video: params.get("video"), frame: Number.parseInt(params.get("frame") || "0", 10) || 0 };
}

// --- labels
function renderLabels() {
  const list = $("#labels");
  list.replaceChildren();
  state.labels.forEach((label, index) => {
    const button = document.createElement("button");
    button.className = "label" + (label === state.label ? " active" : "");
    button.dataset.label = label;
    button.style.setProperty("--label-colour", labelColour(state.labels, label));
    button.textContent = index < 9 ? `${index + 1} ${label}` : label;
    button.title = index < 9 ? `Key ${index + 1}` : "";
    button.addEventListener("click", () => pickLabel(label));
    list.append(button);
  });
  const relabel = $("#relabel");
  relabel.replaceChildren(
    ...state.labels.map((label) => new Option(label, label)),
  );
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
    pickLabel(label);
    say(`added the motion label '${label}' to the dataset`);
  } catch (error) {
    say(error.message, "error");
  }
}

// --- the selected interval
function renderSelection() {
  const interval = state.motion.intervals[state.selected];
  const panel = $("#selection");
  panel.hidden = !interval;
  if (interval) {
    $("#selection-text").textContent =
      `track ${interval.track_id} · ${interval.label} · frames ${interval.start}–${interval.end}` +
      ` · ${interval.source}` + (interval.author ? ` by ${interval.author}` : "");
    $("#accept").disabled = interval.source !== "auto";
    $("#relabel").value = interval.label;
  }
  const pending = state.pending;
  $("#pending").textContent = pending
    ? `Start of '${pending.label}' on track ${pending.track} at frame ${pending.frame}: ` +
      "step to where it ends and click the same box (Esc cancels)"
    : state.label
      ? `Label '${state.label}': click a box where the motion starts`
      : "Add a motion label to start";
}

function select(index) {
  state.selected = index;
  redraw();
}

// --- saving: every change goes through here, one at a time
function rebuildIndex() {
  byTrack = new Map();
  for (const interval of state.motion.intervals) {
    if (!byTrack.has(interval.track_id)) byTrack.set(interval.track_id, []);
    byTrack.get(interval.track_id).push(interval);
  }
}

function applySaved(motion) {
  state.motion = motion;
  rebuildIndex();
  setSaveStatus(`Saved rev ${motion.revision}`, "saved");
}

/**
 * Queue a change. `send(revision)` performs the request and resolves to the server's answer;
 * `history` says whether the change is recorded for undo (undo itself moves between stacks).
 */
function change(send, { history = true } = {}) {
  const run = async () => {
    if (state.conflict) {
      say("This page is out of date: reload before editing again.", "error");
      return;
    }
    const before = state.motion.intervals;
    setSaveStatus("Saving…", "saving");
    try {
      const answer = await send(state.motion.revision);
      applySaved(answer.motion);
      if (history) {
        state.undo.push(before);
        state.redo = [];
      }
      state.selected = answer.selected ?? null;
      if (answer.message) say(answer.message);
    } catch (error) {
      if (error.status === 409) {
        state.conflict = true;
        setSaveStatus("Conflict: reload", "conflict");
        $("#conflict-text").textContent = error.message;
        $("#conflict").hidden = false;
      } else {
        setSaveStatus(`Saved rev ${state.motion.revision}`, "saved");
        say(`Not saved: ${error.message}`, "error");
      }
    }
    redraw();
  };
  queue = queue.then(run, run);
  return queue;
}

function edit(body) {
  if (!state.author) {
    askAuthor();
    return Promise.resolve();
  }
  return change((revision) => api.edit(state.video.video_id, revision, state.author, body));
}

/** Edit the interval now at `index`, found again at send time in case a save moved it. */
function editInterval(index, body) {
  const interval = state.motion.intervals[index];
  if (!interval) return Promise.resolve();
  return edit({ ...body, index });
}

function restore(fromStack, toStack, word) {
  if (!fromStack.length) {
    say(`nothing to ${word}`);
    return Promise.resolve();
  }
  return change(
    async (revision) => {
      const target = fromStack.pop();
      const current = state.motion.intervals;
      try {
        const answer = await api.putMotion(state.video.video_id, revision, target);
        toStack.push(current);
        return { ...answer, message: `${word}: back to ${target.length} intervals` };
      } catch (error) {
        fromStack.push(target);
        throw error;
      }
    },
    { history: false },
  );
}

const undo = () => restore(state.undo, state.redo, "undo");
const redo = () => restore(state.redo, state.undo, "redo");

// --- clicks on the frame
function clickFrame(event) {
  const [x, y] = view.imagePoint(event);
  const track = view.hitTest(state.frame, x, y);
  if (track === null) {
    if (!state.pending) select(null);
    return;
  }
  if (!state.label) {
    say("Pick or add a motion label first.", "error");
    return;
  }
  const pending = state.pending;
  if (pending && pending.track === track) {
    state.pending = null;
    edit({
      edit: "mark",
      track_id: track,
      label: pending.label,
      first_click: pending.frame,
      second_click: state.frame,
    });
    return;
  }
  if (pending) say(`Started over on track ${track} (was track ${pending.track})`);
  state.pending = { track, frame: state.frame, label: state.label };
  redraw();
}

function hoverFrame(event) {
  const [x, y] = view.imagePoint(event);
  setHover(view.hitTest(state.frame, x, y));
}

function setHover(track) {
  if (track === state.hover) return;
  state.hover = track;
  view.canvas.style.cursor = track === null ? "default" : "pointer";
  redraw();
}

// --- playback
function togglePlay() {
  state.playing = !state.playing;
  $("#play").textContent = state.playing ? "❚❚" : "▶";
  if (state.playing) play();
}

async function play() {
  const interval = 1000 / state.video.fps;
  while (state.playing) {
    const started = performance.now();
    if (state.frame >= state.video.num_frames - 1) break;
    await show(state.frame + 1);
    const wait = interval - (performance.now() - started);
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
  state.playing = false;
  $("#play").textContent = "▶";
}

const step = (delta) => show(state.frame + delta);

// --- keyboard
function onKey(event) {
  const target = event.target;
  if (target instanceof HTMLInputElement || target instanceof HTMLSelectElement) return;
  if (!$("#author-dialog").hidden) return;
  const ctrl = event.ctrlKey || event.metaKey;
  const key = event.key;
  let handled = true;
  if (ctrl && (key === "z" || key === "Z")) {
    if (event.shiftKey) redo();
    else undo();
  } else if (ctrl && (key === "y" || key === "Y")) redo();
  else if (ctrl) handled = false;
  else if (key === " ") togglePlay();
  else if (key === "ArrowRight") step(event.shiftKey ? 10 : 1);
  else if (key === "ArrowLeft") step(event.shiftKey ? -10 : -1);
  else if (key === "PageDown") step(10);
  else if (key === "PageUp") step(-10);
  else if (key === "Home") show(0);
  else if (key === "End") show(state.video.num_frames - 1);
  else if (/^[1-9]$/.test(key)) {
    const label = state.labels[Number(key) - 1];
    if (label) pickLabel(label);
  } else if (key === "Delete" || key === "Backspace") {
    if (state.selected !== null) editInterval(state.selected, { edit: "delete" });
  } else if (key === "Escape") {
    state.pending = null;
    select(null);
  } else if (key === "a" || key === "A") {
    const interval = state.motion.intervals[state.selected];
    if (interval && interval.source === "auto") editInterval(state.selected, { edit: "accept" });
  } else if (key === "[") {
    if (state.selected !== null) editInterval(state.selected, { edit: "move", start: state.frame });
  } else if (key === "]") {
    if (state.selected !== null) editInterval(state.selected, { edit: "move", end: state.frame });
  } else if (key === "?") {
    $("#help").hidden = !$("#help").hidden;
  } else handled = false;
  if (handled) event.preventDefault();
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
}

// --- loading
async function openVideo(videoId, frame = 0) {
  state.playing = false;
  const [video, motion] = await Promise.all([api.video(videoId), api.motion(videoId)]);
  state.video = video;
  state.selected = null;
  state.pending = null;
  state.undo = [];
  state.redo = [];
  state.conflict = false;
  $("#conflict").hidden = true;
  $("#video-select").value = videoId;
  applySaved(motion);
  frames = new FrameCache((f) => api.frameUrl(videoId, f));
  view.setVideo(video);
  timeline.setVideo(video);
  $("#scrubber").max = String(Math.max(0, video.num_frames - 1));
  $("#video-facts").textContent =
    `${video.width}×${video.height} · ${video.fps} fps · ${video.tracks.length} tracks`;
  redraw();
  await show(frame);
}

async function reload() {
  await openVideo(state.video.video_id, state.frame);
  say("reloaded the saved intervals");
}

async function main() {
  view = new FrameView($("#frame"));
  timeline = new Timeline($("#timeline"), {
    onSeek: (frame) => show(frame),
    onSelect: (index) => select(index),
    onHover: (track) => setHover(track),
    onMoveEnd: (index, ends) => editInterval(index, { edit: "move", ...ends }),
  });
  view.canvas.addEventListener("click", clickFrame);
  view.canvas.addEventListener("mousemove", hoverFrame);
  view.canvas.addEventListener("mouseleave", () => setHover(null));
  document.addEventListener("keydown", onKey);
  $("#play").addEventListener("click", togglePlay);
  $("#prev").addEventListener("click", () => step(-1));
  $("#next").addEventListener("click", () => step(1));
  $("#scrubber").addEventListener("input", (event) => show(Number(event.target.value)));
  $("#add-label").addEventListener("submit", (event) => {
    event.preventDefault();
    addLabel();
  });
  $("#author").addEventListener("click", askAuthor);
  $("#author-form").addEventListener("submit", saveAuthor);
  $("#accept").addEventListener("click", () => editInterval(state.selected, { edit: "accept" }));
  $("#set-start").addEventListener("click", () =>
    editInterval(state.selected, { edit: "move", start: state.frame }));
  $("#set-end").addEventListener("click", () =>
    editInterval(state.selected, { edit: "move", end: state.frame }));
  $("#delete").addEventListener("click", () => editInterval(state.selected, { edit: "delete" }));
  $("#relabel").addEventListener("change", (event) =>
    editInterval(state.selected, { edit: "relabel", label: event.target.value }));
  $("#undo").addEventListener("click", undo);
  $("#redo").addEventListener("click", redo);
  $("#reload").addEventListener("click", reload);
  $("#help-button").addEventListener("click", () => ($("#help").hidden = !$("#help").hidden));
  $("#video-select").addEventListener("change", (event) => openVideo(event.target.value));

  const [listing, vocabulary] = await Promise.all([api.videos(), api.vocabulary()]);
  state.videos = listing.videos;
  state.labels = vocabulary.motion_labels;
  state.label = state.labels[0] || null;
  $("#dataset-name").textContent = listing.dataset;
  $("#video-select").replaceChildren(
    ...listing.videos.map((v) => new Option(`${v.video_id} (${v.num_frames} frames)`, v.video_id)),
  );
  renderLabels();
  $("#author").textContent = state.author || "(who are you?)";
  if (!state.author) askAuthor();
  const wanted = readHash();
  const known = listing.videos.some((v) => v.video_id === wanted.video);
  if (!listing.videos.length) {
    say("This dataset has no videos.", "error");
    return;
  }
  await openVideo(known ? wanted.video : listing.videos[0].video_id, wanted.frame);
}

// A small handle for tests and the benchmark (no effect on the page).
window.annotator = {
  state,
  show,
  step,
  hitTest: (x, y) => view.hitTest(state.frame, x, y),
  ready: main().then(
    () => performance.now(),
    (error) => {
      say(`The annotator could not start: ${error.message}`, "error");
      throw error;
    },
  ),
};
