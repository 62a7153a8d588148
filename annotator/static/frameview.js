// The frame view: the frame's image on a canvas with every box and id drawn, hit testing of
// clicks (the smallest box under the pointer wins) and a small cache of preloaded frames.

export function trackColour(trackId) {
  const hue = (trackId * 137.508) % 360; // golden angle: neighbours get distant hues
  return `hsl(${hue.toFixed(0)} 85% 55%)`;
}

export const LABEL_COLOURS = [
  "#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4",
  "#42d4f4", "#f032e6", "#bfef45", "#fabed4", "#469990",
];

export function labelColour(labels, label) {
  const index = labels.indexOf(label);
  return LABEL_COLOURS[(index < 0 ? labels.length : index) % LABEL_COLOURS.length];
}

/** Preloads and keeps decoded frame images, bounded, most recently used last. */
export class FrameCache {
  constructor(urlOf, capacity = 48) {
    this.urlOf = urlOf;
    this.capacity = capacity;
    this.images = new Map(); // frame -> Promise<HTMLImageElement>
  }

  get(frame) {
    let entry = this.images.get(frame);
    if (entry) {
      this.images.delete(frame);
    } else {
      const image = new Image();
      image.decoding = "async";
      image.src = this.urlOf(frame);
      entry = image.decode().then(() => image, () => {
        this.images.delete(frame);
        throw new Error(`frame ${frame} could not be loaded`);
      });
      entry.catch(() => {});
    }
    this.images.set(frame, entry);
    while (this.images.size > this.capacity) {
      this.images.delete(this.images.keys().next().value);
    }
    return entry;
  }

  preload(frames) {
    for (const frame of frames) if (!this.images.has(frame)) this.get(frame);
  }
}

export class FrameView {
  constructor(canvas) {
    this.canvas = canvas;
    this.context = canvas.getContext("2d");
    this.video = null;
    this.image = null;
  }

  setVideo(video) {
    this.video = video;
    this.canvas.width = video.width;
    this.canvas.height = video.height;
    const boxes = video.boxes;
    this.offsets = Int32Array.from(boxes.frame_offsets);
    this.trackIds = Int32Array.from(boxes.track_id);
    this.xyxy = Float32Array.from(boxes.xyxy);
  }

  /** Rows of the box arrays that belong to `frame`. */
  rows(frame) {
    return [this.offsets[frame], this.offsets[frame + 1]];
  }

  /** The track whose box contains image point (x, y) on `frame`; smallest box wins. */
  hitTest(frame, x, y) {
    const [begin, end] = this.rows(frame);
    let best = null;
    let bestArea = Infinity;
    for (let row = begin; row < end; row++) {
      const x1 = this.xyxy[4 * row], y1 = this.xyxy[4 * row + 1];
      const x2 = this.xyxy[4 * row + 2], y2 = this.xyxy[4 * row + 3];
      if (x >= x1 && x < x2 && y >= y1 && y < y2) {
        const area = (x2 - x1) * (y2 - y1);
        if (area < bestArea) {
          bestArea = area;
          best = this.trackIds[row];
        }
      }
    }
    return best;
  }

  /** Canvas event position in image pixels. */
  imagePoint(event) {
    const rect = this.canvas.getBoundingClientRect();
    return [
      ((event.clientX - rect.left) / rect.width) * this.canvas.width,
      ((event.clientY - rect.top) / rect.height) * this.canvas.height,
    ];
  }

  /**
   * Draw `image` and the boxes of `frame`. `marks` says how to draw tracks: hover, selected,
   * pending (the first click of an interval) and the active labels of each track.
   */
  draw(frame, image, marks) {
    const context = this.context;
    const { width, height } = this.canvas;
    if (image) this.image = image;
    if (this.image) context.drawImage(this.image, 0, 0, width, height);
    else {
      context.fillStyle = "#222";
      context.fillRect(0, 0, width, height);
    }
    const scale = Math.max(1, width / 960);
    const font = Math.round(12 * scale);
    context.font = `${font}px system-ui, sans-serif`;
    context.textBaseline = "bottom";
    const [begin, end] = this.rows(frame);
    for (let row = begin; row < end; row++) {
      const trackId = this.trackIds[row];
      const x1 = this.xyxy[4 * row], y1 = this.xyxy[4 * row + 1];
      const w = this.xyxy[4 * row + 2] - x1, h = this.xyxy[4 * row + 3] - y1;
      const colour = trackColour(trackId);
      const hot = trackId === marks.hover || trackId === marks.selected;
      const pending = marks.pending !== null && trackId === marks.pending;
      if (hot) {
        context.fillStyle = "rgba(255,255,255,0.18)";
        context.fillRect(x1, y1, w, h);
      }
      context.lineWidth = (hot || pending ? 3 : 1.5) * scale;
      context.strokeStyle = pending ? "#fff" : colour;
      context.setLineDash(pending ? [6 * scale, 4 * scale] : []);
      context.strokeRect(x1 + 0.5, y1 + 0.5, w - 1, h - 1);
      const labels = marks.activeLabels(trackId, frame);
      const text = labels.length ? `${trackId} · ${labels.join(", ")}` : `${trackId}`;
      const textWidth = context.measureText(text).width + 6 * scale;
      const ty = y1 >= font + 4 ? y1 : y1 + font + 4;
      context.fillStyle = hot ? "#fff" : colour;
      context.fillRect(x1, ty - font - 3, textWidth, font + 3);
      context.fillStyle = "#000";
      context.fillText(text, x1 + 3 * scale, ty - 1);
    }
    context.setLineDash([]);
  }
}
