// The per-track timeline: one row per track with its life span and its motion intervals
// coloured by label, a ruler and a playhead. Click or drag to scrub, click an interval to
// select it, drag an end of the selected interval to move it.

import { labelColour, trackColour } from "./frameview.js";

const NAME_WIDTH = 150;
const ROW_HEIGHT = 16;
const RULER_HEIGHT = 20;
const EDGE_GRAB_PX = 5;

export class Timeline {
  constructor(root, callbacks) {
    this.root = root;
    this.callbacks = callbacks; // onSeek(frame), onSelect(index|null), onHover(track|null),
    // onMoveEnd(index, {start|end})
    this.ruler = root.querySelector("#ruler");
    this.rowsCanvas = root.querySelector("#rows");
    this.playhead = root.querySelector("#playhead");
    this.tracks = [];
    this.rowOf = new Map();
    this.numFrames = 1;
    this.intervals = [];
    this.labels = [];
    this.marks = { hover: null, selected: null, pending: null };
    this.drag = null;
    this.hoverRow = null;
    this.bind();
  }

  setVideo(video) {
    this.tracks = video.tracks;
    this.rowOf = new Map(video.tracks.map((track, row) => [track.track_id, row]));
    this.numFrames = Math.max(1, video.num_frames);
    this.resize();
  }

  resize() {
    const width = Math.max(300, this.root.clientWidth);
    this.ruler.width = width;
    this.ruler.height = RULER_HEIGHT;
    this.rowsCanvas.width = width;
    this.rowsCanvas.height = Math.max(ROW_HEIGHT, this.tracks.length * ROW_HEIGHT);
    this.playhead.style.height = `${RULER_HEIGHT + this.rowsCanvas.height}px`;
    if (this.frame !== undefined) this.setFrame(this.frame);
    this.redraw();
  }

  xOf(frame) {
    return NAME_WIDTH + (frame / this.numFrames) * (this.ruler.width - NAME_WIDTH);
  }

  frameAt(x) {
    const frame = Math.floor(((x - NAME_WIDTH) / (this.ruler.width - NAME_WIDTH)) * this.numFrames);
    return Math.min(this.numFrames - 1, Math.max(0, frame));
  }

  update(intervals, labels, marks) {
    this.intervals = intervals;
    this.labels = labels;
    this.marks = marks;
    this.redraw();
  }

  setFrame(frame) {
    const x = this.xOf(frame + 0.5);
    this.playhead.style.transform = `translateX(${x.toFixed(1)}px)`;
    this.frame = frame;
  }

  /** The interval drawn at (track row, frame): the last drawn one wins, as on screen. */
  intervalAt(trackId, frame) {
    for (let index = this.intervals.length - 1; index >= 0; index--) {
      const interval = this.intervals[index];
      if (interval.track_id === trackId && interval.start <= frame && frame <= interval.end) {
        return index;
      }
    }
    return null;
  }

  redraw() {
    this.drawRuler();
    this.drawRows();
  }

  drawRuler() {
    const context = this.ruler.getContext("2d");
    const { width, height } = this.ruler;
    context.fillStyle = "#1b1e24";
    context.fillRect(0, 0, width, height);
    context.fillStyle = "#9aa3b2";
    context.font = "11px system-ui, sans-serif";
    context.textBaseline = "middle";
    context.fillText(`${this.tracks.length} tracks`, 6, height / 2);
    const pixelsPerFrame = (width - NAME_WIDTH) / this.numFrames;
    const steps = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];
    const step = steps.find((s) => s * pixelsPerFrame >= 60) || 25000;
    context.strokeStyle = "#555c69";
    context.beginPath();
    for (let frame = 0; frame < this.numFrames; frame += step) {
      const x = Math.round(this.xOf(frame)) + 0.5;
      context.moveTo(x, height - 6);
      context.lineTo(x, height);
      context.fillText(String(frame), x + 3, height / 2 - 1);
    }
    context.stroke();
  }

  drawRows() {
    const context = this.rowsCanvas.getContext("2d");
    const { width, height } = this.rowsCanvas;
    context.fillStyle = "#14161a";
    context.fillRect(0, 0, width, height);
    context.font = "11px system-ui, sans-serif";
    context.textBaseline = "middle";
    const { hover, pending, selected } = this.marks;
    this.tracks.forEach((track, row) => {
      const y = row * ROW_HEIGHT;
      if (track.track_id === hover) {
        context.fillStyle = "#2a3040";
        context.fillRect(0, y, width, ROW_HEIGHT);
      } else if (row % 2) {
        context.fillStyle = "#181b21";
        context.fillRect(0, y, width, ROW_HEIGHT);
      }
      context.fillStyle = trackColour(track.track_id);
      context.fillRect(2, y + 3, 8, ROW_HEIGHT - 6);
      context.fillStyle = track.track_id === hover ? "#fff" : "#c9d1dc";
      const name = [track.type || track.category, track.colour].filter(Boolean).join(" ");
      context.fillText(`${track.track_id} ${name}`.slice(0, 22), 14, y + ROW_HEIGHT / 2);
      if (track.first_frame !== null) {
        context.fillStyle = "#3a404c";
        const x1 = this.xOf(track.first_frame), x2 = this.xOf(track.last_frame + 1);
        context.fillRect(x1, y + ROW_HEIGHT / 2 - 1, Math.max(1, x2 - x1), 2);
      }
    });
    this.intervals.forEach((interval, index) => {
      const row = this.rowOf.get(interval.track_id);
      if (row === undefined) return;
      let { start, end } = interval;
      if (this.drag && this.drag.index === index) {
        if (this.drag.edge === "start") start = Math.min(this.drag.frame, end);
        else end = Math.max(this.drag.frame, start);
      }
      const x1 = this.xOf(start), x2 = this.xOf(end + 1);
      const y = row * ROW_HEIGHT + 2;
      const w = Math.max(2, x2 - x1), h = ROW_HEIGHT - 4;
      context.fillStyle = labelColour(this.labels, interval.label);
      context.globalAlpha = interval.source === "auto" ? 0.45 : 0.9;
      context.fillRect(x1, y, w, h);
      context.globalAlpha = 1;
      if (interval.source === "auto") {
        context.setLineDash([3, 2]);
        context.strokeStyle = labelColour(this.labels, interval.label);
        context.lineWidth = 1;
        context.strokeRect(x1 + 0.5, y + 0.5, w - 1, h - 1);
        context.setLineDash([]);
      }
      if (index === selected) {
        context.strokeStyle = "#fff";
        context.lineWidth = 2;
        context.strokeRect(x1, y - 1, w, h + 2);
      }
      if (w > 60) {
        context.fillStyle = "#000";
        context.fillText(interval.label, x1 + 3, y + h / 2 + 0.5, w - 6);
      }
    });
    if (pending) {
      const row = this.rowOf.get(pending.track);
      if (row !== undefined) {
        const x = this.xOf(pending.frame);
        context.fillStyle = "#fff";
        context.beginPath();
        context.moveTo(x, row * ROW_HEIGHT + 1);
        context.lineTo(x + 6, row * ROW_HEIGHT + ROW_HEIGHT / 2);
        context.lineTo(x, row * ROW_HEIGHT + ROW_HEIGHT - 1);
        context.fill();
      }
    }
  }

  bind() {
    const position = (event, canvas) => {
      const rect = canvas.getBoundingClientRect();
      return [event.clientX - rect.left, event.clientY - rect.top];
    };
    const scrubFrom = (canvas, event) => {
      const [x] = position(event, canvas);
      if (x >= NAME_WIDTH) this.callbacks.onSeek(this.frameAt(x));
      this.drag = { scrub: canvas };
    };
    this.ruler.addEventListener("mousedown", (event) => scrubFrom(this.ruler, event));
    this.rowsCanvas.addEventListener("mousedown", (event) => {
      const [x, y] = position(event, this.rowsCanvas);
      const track = this.tracks[Math.floor(y / ROW_HEIGHT)];
      if (!track) return;
      if (x < NAME_WIDTH) {
        if (track.first_frame !== null) this.callbacks.onSeek(track.first_frame);
        return;
      }
      const frame = this.frameAt(x);
      const selected = this.intervals[this.marks.selected];
      if (selected && selected.track_id === track.track_id) {
        for (const edge of ["start", "end"]) {
          const edgeX = this.xOf(edge === "start" ? selected.start : selected.end + 1);
          if (Math.abs(edgeX - x) <= EDGE_GRAB_PX) {
            this.drag = { index: this.marks.selected, edge, frame: selected[edge] };
            return;
          }
        }
      }
      const index = this.intervalAt(track.track_id, frame);
      if (index !== null) {
        this.callbacks.onSelect(index);
        this.callbacks.onSeek(frame);
        return;
      }
      this.callbacks.onSelect(null);
      scrubFrom(this.rowsCanvas, event);
    });
    window.addEventListener("mousemove", (event) => {
      if (this.drag && this.drag.scrub) {
        const [x] = position(event, this.drag.scrub);
        this.callbacks.onSeek(this.frameAt(x));
      } else if (this.drag) {
        const [x] = position(event, this.rowsCanvas);
        const frame = this.frameAt(x);
        if (frame !== this.drag.frame) {
          this.drag.frame = frame;
          this.drawRows();
          this.callbacks.onSeek(frame);
        }
      }
    });
    window.addEventListener("mouseup", () => {
      const drag = this.drag;
      this.drag = null;
      if (drag && !drag.scrub) {
        const interval = this.intervals[drag.index];
        if (interval && interval[drag.edge] !== drag.frame) {
          this.callbacks.onMoveEnd(drag.index, { [drag.edge]: drag.frame });
        } else this.drawRows();
      }
    });
    this.rowsCanvas.addEventListener("mousemove", (event) => {
      if (this.drag) return;
      const [, y] = position(event, this.rowsCanvas);
      const track = this.tracks[Math.floor(y / ROW_HEIGHT)];
      this.callbacks.onHover(track ? track.track_id : null);
    });
    this.rowsCanvas.addEventListener("mouseleave", () => this.callbacks.onHover(null));
    window.addEventListener("resize", () => this.resize());
  }
}
