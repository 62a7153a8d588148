// The timeline: one header row per track (life span, collapse and hide toggles) and under it
// one lane per (track, label) that the track has intervals of, so every interval is drawn at
// its true extent and none can cover another. The selected interval is drawn last, on top,
// with its end handles. Click or drag to scrub, click an interval to select it, drag an end
// of the selected interval to move it. Only the rows in view are drawn.

import { labelColour } from "./labels.js";
import { trackColour } from "./frameview.js";

const NAME_WIDTH = 190;
const ROW_HEIGHT = 14;
const RULER_HEIGHT = 18;
const EDGE_GRAB_PX = 5;
const TOGGLE_WIDTH = 14; // the collapse triangle, then the eye

export const sameInterval = (a, b) =>
  !!a && !!b && a.track_id === b.track_id && a.label === b.label && a.start === b.start &&
  a.end === b.end && a.source === b.source && a.author === b.author &&
  a.timestamp === b.timestamp;

export function reviewState(interval) {
  if (interval.source === "manual") return "corrected";
  return interval.timestamp ? "accepted" : "unreviewed";
}

export class Timeline {
  constructor(root, callbacks) {
    this.root = root;
    this.callbacks = callbacks; // onSeek, onSelect, onHover, onMoveEnd, onCollapse, onHide
    this.ruler = root.querySelector("#ruler");
    this.scroller = root.querySelector("#lanes");
    this.canvas = root.querySelector("#rows");
    this.spacer = root.querySelector("#lanes-spacer");
    this.playhead = root.querySelector("#playhead");
    this.tracks = [];
    this.numFrames = 1;
    this.intervals = [];
    this.labels = [];
    this.marks = { hover: null, selected: null, pending: null };
    this.view = { collapsed: new Set(), hidden: new Set(), category: "", label: "", state: "" };
    this.rows = []; // {track, label|null, intervals}
    this.drag = null;
    this.frame = 0;
    this.bind();
  }

  setVideo(video) {
    this.tracks = video.tracks;
    this.numFrames = Math.max(1, video.num_frames);
    this.resize();
  }

  resize() {
    const width = Math.max(320, this.scroller.clientWidth);
    this.ruler.width = width;
    this.ruler.height = RULER_HEIGHT;
    this.canvas.width = width;
    this.canvas.height = Math.max(ROW_HEIGHT, this.scroller.clientHeight);
    this.layout();
  }

  xOf(frame) {
    return NAME_WIDTH + (frame / this.numFrames) * (this.canvas.width - NAME_WIDTH);
  }

  frameAt(x) {
    const frame = Math.floor(((x - NAME_WIDTH) / (this.canvas.width - NAME_WIDTH)) * this.numFrames);
    return Math.min(this.numFrames - 1, Math.max(0, frame));
  }

  update(intervals, labels, marks, view) {
    this.intervals = intervals;
    this.labels = labels;
    this.marks = marks;
    this.view = view;
    this.layout();
  }

  /** Whether an interval passes the label and review-state filters. */
  shown(interval) {
    const { label, state } = this.view;
    return (!label || interval.label === label) && (!state || reviewState(interval) === state);
  }

  /** The rows: a header per track passing the category filter, its lanes unless collapsed. */
  layout() {
    const byTrack = new Map();
    for (const interval of this.intervals) {
      if (!this.shown(interval)) continue;
      if (!byTrack.has(interval.track_id)) byTrack.set(interval.track_id, new Map());
      const lanes = byTrack.get(interval.track_id);
      if (!lanes.has(interval.label)) lanes.set(interval.label, []);
      lanes.get(interval.label).push(interval);
    }
    const order = (label) => {
      const index = this.labels.indexOf(label);
      return index < 0 ? this.labels.length : index;
    };
    const filtering = this.view.label || this.view.state;
    this.rows = [];
    for (const track of this.tracks) {
      if (this.view.category && track.category !== this.view.category) continue;
      const lanes = byTrack.get(track.track_id) || new Map();
      if (filtering && !lanes.size) continue;
      const all = [...lanes.values()].flat();
      this.rows.push({ track, label: null, intervals: all });
      if (this.view.collapsed.has(track.track_id)) continue;
      const labels = [...lanes.keys()].sort((a, b) => order(a) - order(b) || a.localeCompare(b));
      for (const label of labels) this.rows.push({ track, label, intervals: lanes.get(label) });
    }
    const total = this.rows.length * ROW_HEIGHT;
    this.spacer.style.height = `${Math.max(0, total - this.canvas.height)}px`;
    this.redraw();
  }

  /** Scroll so the row of `interval`'s lane is in view. */
  reveal(interval) {
    const row = this.rows.findIndex(
      (r) => r.track.track_id === interval.track_id && r.label === interval.label,
    );
    if (row < 0) return;
    const top = row * ROW_HEIGHT, scroll = this.scroller.scrollTop;
    if (top < scroll || top + ROW_HEIGHT > scroll + this.canvas.height) {
      this.scroller.scrollTop = Math.max(0, top - this.canvas.height / 3);
    }
  }

  setFrame(frame) {
    this.frame = frame;
    const x = this.xOf(frame + 0.5);
    this.playhead.style.transform = `translateX(${x.toFixed(1)}px)`;
  }

  redraw() {
    this.drawRuler();
    this.drawRows();
    this.setFrame(this.frame);
  }

  drawRuler() {
    const context = this.ruler.getContext("2d");
    const { width, height } = this.ruler;
    context.fillStyle = "#1b1e24";
    context.fillRect(0, 0, width, height);
    context.fillStyle = "#9aa3b2";
    context.font = "11px system-ui, sans-serif";
    context.textBaseline = "middle";
    const lanes = this.rows.filter((r) => r.label !== null).length;
    context.fillText(`${this.tracks.length} tracks · ${lanes} lanes`, 6, height / 2);
    const pixelsPerFrame = (width - NAME_WIDTH) / this.numFrames;
    const steps = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];
    const step = steps.find((s) => s * pixelsPerFrame >= 50) || 25000;
    context.strokeStyle = "#555c69";
    context.beginPath();
    for (let frame = 0; frame < this.numFrames; frame += step) {
      const x = Math.round(this.xOf(frame)) + 0.5;
      context.moveTo(x, height - 5);
      context.lineTo(x, height);
      context.fillText(String(frame), x + 3, height / 2 - 1);
    }
    context.stroke();
  }

  /** The interval as drawn, with the end being dragged moved. */
  drawnEnds(interval) {
    let { start, end } = interval;
    if (this.drag && this.drag.interval && sameInterval(this.drag.interval, interval)) {
      if (this.drag.edge === "start") start = Math.min(this.drag.frame, end);
      else end = Math.max(this.drag.frame, start);
    }
    return [start, end];
  }

  drawRows() {
    const context = this.canvas.getContext("2d");
    const { width, height } = this.canvas;
    const scroll = this.scroller.scrollTop;
    context.fillStyle = "#14161a";
    context.fillRect(0, 0, width, height);
    context.font = "11px system-ui, sans-serif";
    context.textBaseline = "middle";
    const first = Math.floor(scroll / ROW_HEIGHT);
    const last = Math.min(this.rows.length, Math.ceil((scroll + height) / ROW_HEIGHT));
    const { hover, pending, selected } = this.marks;
    let selectedAt = null;
    for (let index = first; index < last; index++) {
      const row = this.rows[index];
      const y = index * ROW_HEIGHT - scroll;
      const track = row.track;
      const hidden = this.view.hidden.has(track.track_id);
      if (track.track_id === hover) {
        context.fillStyle = "#2a3040";
        context.fillRect(0, y, width, ROW_HEIGHT);
      } else if (row.label === null) {
        context.fillStyle = "#1d2128";
        context.fillRect(0, y, width, ROW_HEIGHT);
      }
      context.globalAlpha = hidden ? 0.4 : 1;
      if (row.label === null) {
        const collapsed = this.view.collapsed.has(track.track_id);
        context.fillStyle = "#9aa3b2";
        context.fillText(collapsed ? "▸" : "▾", 3, y + ROW_HEIGHT / 2);
        context.fillText(hidden ? "◌" : "●", TOGGLE_WIDTH + 2, y + ROW_HEIGHT / 2);
        context.fillStyle = trackColour(track.track_id);
        context.fillRect(2 * TOGGLE_WIDTH + 2, y + 3, 7, ROW_HEIGHT - 6);
        context.fillStyle = track.track_id === hover ? "#fff" : "#c9d1dc";
        const name = [track.type || track.category, track.colour].filter(Boolean).join(" ");
        const count = row.intervals.length;
        context.fillText(
          `${track.track_id} ${name} (${count})`.slice(0, 26),
          2 * TOGGLE_WIDTH + 13,
          y + ROW_HEIGHT / 2,
        );
        if (track.first_frame !== null) {
          context.fillStyle = "#4a5160";
          const x1 = this.xOf(track.first_frame), x2 = this.xOf(track.last_frame + 1);
          context.fillRect(x1, y + ROW_HEIGHT / 2 - 1, Math.max(1, x2 - x1), 3);
        }
        if (this.view.collapsed.has(track.track_id)) {
          for (const interval of row.intervals) {
            context.fillStyle = labelColour(this.labels, interval.label);
            const x1 = this.xOf(interval.start), x2 = this.xOf(interval.end + 1);
            context.fillRect(x1, y + 2, Math.max(1, x2 - x1), 3);
          }
        }
      } else {
        const colour = labelColour(this.labels, row.label);
        context.fillStyle = colour;
        context.fillRect(2 * TOGGLE_WIDTH + 6, y + 3, 5, ROW_HEIGHT - 6);
        context.fillStyle = "#aab3c0";
        context.fillText(row.label.slice(0, 24), 2 * TOGGLE_WIDTH + 15, y + ROW_HEIGHT / 2);
        if (track.first_frame !== null) {
          context.fillStyle = "#262a32";
          const x1 = this.xOf(track.first_frame), x2 = this.xOf(track.last_frame + 1);
          context.fillRect(x1, y + 1, Math.max(1, x2 - x1), ROW_HEIGHT - 2);
        }
        for (const interval of row.intervals) {
          if (sameInterval(interval, selected)) selectedAt = { interval, y };
          this.drawInterval(context, interval, y, colour);
        }
      }
      context.globalAlpha = 1;
      if (pending && row.label === null && pending.track === track.track_id) {
        const x = this.xOf(pending.frame);
        context.fillStyle = "#fff";
        context.beginPath();
        context.moveTo(x, y + 1);
        context.lineTo(x + 6, y + ROW_HEIGHT / 2);
        context.lineTo(x, y + ROW_HEIGHT - 1);
        context.fill();
      }
    }
    if (selectedAt) {
      // on top of everything: the outline and the two end handles
      const [start, end] = this.drawnEnds(selectedAt.interval);
      const x1 = this.xOf(start), x2 = this.xOf(end + 1), y = selectedAt.y + 1;
      const w = Math.max(3, x2 - x1);
      context.strokeStyle = "#fff";
      context.lineWidth = 2;
      context.strokeRect(x1, y, w, ROW_HEIGHT - 2);
      context.fillStyle = "#fff";
      context.fillRect(x1 - 2, y - 1, 4, ROW_HEIGHT);
      context.fillRect(x1 + w - 2, y - 1, 4, ROW_HEIGHT);
    }
  }

  drawInterval(context, interval, y, colour) {
    const [start, end] = this.drawnEnds(interval);
    const x1 = this.xOf(start), x2 = this.xOf(end + 1);
    const w = Math.max(2, x2 - x1), h = ROW_HEIGHT - 4;
    const state = reviewState(interval);
    context.fillStyle = colour;
    context.globalAlpha = state === "unreviewed" ? 0.45 : 0.95;
    context.fillRect(x1, y + 2, w, h);
    context.globalAlpha = 1;
    if (state === "unreviewed") {
      context.setLineDash([3, 2]);
      context.strokeStyle = colour;
      context.lineWidth = 1;
      context.strokeRect(x1 + 0.5, y + 2.5, w - 1, h - 1);
      context.setLineDash([]);
    } else if (state === "accepted") {
      context.fillStyle = "#000";
      if (w > 14) context.fillText("✓", x1 + 3, y + ROW_HEIGHT / 2);
    }
  }

  /** The row and frame under a mouse event on the rows canvas. */
  at(event) {
    const rect = this.canvas.getBoundingClientRect();
    const x = event.clientX - rect.left, y = event.clientY - rect.top + this.scroller.scrollTop;
    return { x, row: this.rows[Math.floor(y / ROW_HEIGHT)] || null, frame: this.frameAt(x) };
  }

  /** The interval of a lane under x: the one containing the frame, else one within 3 px. */
  intervalAt(row, x) {
    if (!row || row.label === null) return null;
    const frame = this.frameAt(x);
    let best = null, bestDistance = 4;
    for (const interval of row.intervals) {
      if (interval.start <= frame && frame <= interval.end) return interval;
      const distance = Math.min(Math.abs(this.xOf(interval.start) - x), Math.abs(this.xOf(interval.end + 1) - x));
      if (distance < bestDistance) [best, bestDistance] = [interval, distance];
    }
    return best;
  }

  bind() {
    const scrubFrom = (event) => {
      const rect = this.ruler.getBoundingClientRect();
      const x = event.clientX - rect.left;
      if (x >= NAME_WIDTH) this.callbacks.onSeek(this.frameAt(x));
      this.drag = { scrub: true };
    };
    this.ruler.addEventListener("mousedown", (event) => {
      event.preventDefault();
      scrubFrom(event);
    });
    this.canvas.addEventListener("mousedown", (event) => {
      event.preventDefault();
      const { x, row, frame } = this.at(event);
      if (!row) return;
      const track = row.track;
      if (x < NAME_WIDTH) {
        if (row.label === null && x < TOGGLE_WIDTH) this.callbacks.onCollapse(track.track_id);
        else if (row.label === null && x < 2 * TOGGLE_WIDTH) this.callbacks.onHide(track.track_id);
        else if (track.first_frame !== null) this.callbacks.onSeek(track.first_frame);
        return;
      }
      const selected = this.marks.selected;
      if (selected && row.label === selected.label && track.track_id === selected.track_id) {
        for (const edge of ["start", "end"]) {
          const edgeX = this.xOf(edge === "start" ? selected.start : selected.end + 1);
          if (Math.abs(edgeX - x) <= EDGE_GRAB_PX) {
            this.drag = { interval: selected, edge, frame: selected[edge], life: track };
            return;
          }
        }
      }
      const interval = this.intervalAt(row, x);
      if (interval) {
        this.callbacks.onSelect(interval);
        this.callbacks.onSeek(Math.min(interval.end, Math.max(interval.start, frame)));
        return;
      }
      this.callbacks.onSelect(null);
      scrubFrom(event);
    });
    window.addEventListener("mousemove", (event) => {
      if (!this.drag) return;
      const rect = this.canvas.getBoundingClientRect();
      let frame = this.frameAt(event.clientX - rect.left);
      if (this.drag.scrub) {
        this.callbacks.onSeek(frame);
        return;
      }
      const life = this.drag.life; // an end never leaves the track's life
      if (life.first_frame !== null) {
        frame = Math.min(life.last_frame, Math.max(life.first_frame, frame));
      }
      if (frame !== this.drag.frame) {
        this.drag.frame = frame;
        this.drawRows();
        this.callbacks.onSeek(frame);
      }
    });
    window.addEventListener("mouseup", () => {
      const drag = this.drag;
      this.drag = null;
      if (drag && drag.interval) {
        if (drag.interval[drag.edge] !== drag.frame) {
          this.callbacks.onMoveEnd(drag.interval, { [drag.edge]: drag.frame });
        } else this.drawRows();
      }
    });
    this.canvas.addEventListener("mousemove", (event) => {
      if (this.drag) return;
      const { row } = this.at(event);
      this.callbacks.onHover(row ? row.track.track_id : null);
    });
    this.canvas.addEventListener("mouseleave", () => this.callbacks.onHover(null));
    this.scroller.addEventListener("scroll", () => this.drawRows(), { passive: true });
    window.addEventListener("resize", () => this.resize());
  }
}
