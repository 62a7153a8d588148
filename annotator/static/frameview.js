// The frame view: the frame's image on a canvas with every box and id drawn, hit testing of
// clicks (the smallest visible box under the pointer wins), zoom and pan, and a small cache of
// preloaded frames.

export function trackColour(trackId) {
  const hue = (trackId * 137.508) % 360; // golden angle: neighbours get distant hues
  return `hsl(${hue.toFixed(0)} 85% 55%)`;
}

const MAX_ZOOM = 8;

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
    this.frame = null; // the frame whose picture is on the canvas
    this.zoom = 1;
    this.centre = [0, 0]; // image point at the middle of the canvas
    this.isVisible = () => true; // which tracks are drawn and clickable
  }

  setVideo(video) {
    this.video = video;
    this.canvas.width = video.width;
    this.canvas.height = video.height;
    this.image = null;
    this.frame = null;
    const boxes = video.boxes;
    this.offsets = Int32Array.from(boxes.frame_offsets);
    this.trackIds = Int32Array.from(boxes.track_id);
    this.xyxy = Float32Array.from(boxes.xyxy);
    this.resetZoom();
  }

  /** Rows of the box arrays that belong to `frame`. */
  rows(frame) {
    return [this.offsets[frame], this.offsets[frame + 1]];
  }

  /** The visible track whose box contains image point (x, y) on `frame`; smallest box wins. */
  hitTest(frame, x, y) {
    const hits = this.hitAll(frame, x, y);
    return hits.length ? hits[0] : null;
  }

  /** Every visible track whose box contains (x, y) on `frame`, smallest box first. */
  hitAll(frame, x, y) {
    const [begin, end] = this.rows(frame);
    const hits = [];
    for (let row = begin; row < end; row++) {
      const x1 = this.xyxy[4 * row], y1 = this.xyxy[4 * row + 1];
      const x2 = this.xyxy[4 * row + 2], y2 = this.xyxy[4 * row + 3];
      if (x >= x1 && x < x2 && y >= y1 && y < y2 && this.isVisible(this.trackIds[row])) {
        hits.push([(x2 - x1) * (y2 - y1), this.trackIds[row]]);
      }
    }
    return hits.sort((a, b) => a[0] - b[0]).map(([, track]) => track);
  }

  /** The box of `trackId` on `frame` as [x1, y1, x2, y2], or null. */
  boxOf(frame, trackId) {
    const [begin, end] = this.rows(frame);
    for (let row = begin; row < end; row++) {
      if (this.trackIds[row] === trackId) return Array.from(this.xyxy.subarray(4 * row, 4 * row + 4));
    }
    return null;
  }

  // --- zoom and pan: the canvas shows a window of the image, `zoom` times magnified
  resetZoom() {
    this.zoom = 1;
    this.centre = this.video ? [this.video.width / 2, this.video.height / 2] : [0, 0];
  }

  zoomAt(factor, point) {
    const zoom = Math.min(MAX_ZOOM, Math.max(1, this.zoom * factor));
    const [px, py] = point || this.centre;
    // keep the image point under the pointer where it is
    const k = this.zoom / zoom;
    this.centre = [px + (this.centre[0] - px) * k, py + (this.centre[1] - py) * k];
    this.zoom = zoom;
    this.clampCentre();
  }

  panBy(dxImage, dyImage) {
    this.centre = [this.centre[0] - dxImage, this.centre[1] - dyImage];
    this.clampCentre();
  }

  clampCentre() {
    const { width, height } = this.canvas;
    const halfW = width / this.zoom / 2, halfH = height / this.zoom / 2;
    this.centre = [
      Math.min(width - halfW, Math.max(halfW, this.centre[0])),
      Math.min(height - halfH, Math.max(halfH, this.centre[1])),
    ];
  }

  /** Image pixels per canvas pixel is 1 / zoom; the window's top-left image point. */
  origin() {
    const { width, height } = this.canvas;
    return [this.centre[0] - width / this.zoom / 2, this.centre[1] - height / this.zoom / 2];
  }

  /** Canvas event position in image pixels (zoom and pan undone). */
  imagePoint(event) {
    const rect = this.canvas.getBoundingClientRect();
    const cx = ((event.clientX - rect.left) / rect.width) * this.canvas.width;
    const cy = ((event.clientY - rect.top) / rect.height) * this.canvas.height;
    const [ox, oy] = this.origin();
    return [ox + cx / this.zoom, oy + cy / this.zoom];
  }

  /** Image pixels per CSS pixel of the page (for panning by mouse movement). */
  imagePerCssPixel() {
    const rect = this.canvas.getBoundingClientRect();
    return this.canvas.width / rect.width / this.zoom;
  }

  /**
   * Draw `image` (or the last one, for a redraw) and the boxes of `frame`. `marks` says how to
   * draw tracks: hover, selected, pending (the first click of an interval), the active labels
   * of each track, and whether label texts are shown.
   */
  draw(frame, image, marks) {
    const context = this.context;
    const { width, height } = this.canvas;
    if (image) {
      this.image = image;
      this.frame = frame;
    }
    context.setTransform(1, 0, 0, 1, 0, 0);
    context.fillStyle = "#222";
    context.fillRect(0, 0, width, height);
    const [ox, oy] = this.origin();
    context.setTransform(this.zoom, 0, 0, this.zoom, -ox * this.zoom, -oy * this.zoom);
    if (this.image) context.drawImage(this.image, 0, 0, width, height);
    const scale = Math.max(1, width / 960) / this.zoom; // on-screen sizes stay the same
    const font = Math.round(12 * scale * 10) / 10;
    context.font = `${font}px system-ui, sans-serif`;
    context.textBaseline = "bottom";
    const [begin, end] = this.rows(frame);
    for (let row = begin; row < end; row++) {
      const trackId = this.trackIds[row];
      if (!this.isVisible(trackId)) continue;
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
      context.strokeRect(x1, y1, w, h);
      const labels = marks.showTexts || hot ? marks.activeLabels(trackId, frame) : [];
      const text = labels.length ? `${trackId} · ${labels.join(", ")}` : `${trackId}`;
      const textWidth = context.measureText(text).width + 6 * scale;
      const ty = y1 >= font + 4 * scale ? y1 : y1 + font + 4 * scale;
      context.fillStyle = hot ? "#fff" : colour;
      context.fillRect(x1, ty - font - 3 * scale, textWidth, font + 3 * scale);
      context.fillStyle = "#000";
      context.fillText(text, x1 + 3 * scale, ty - scale);
    }
    context.setLineDash([]);
    context.setTransform(1, 0, 0, 1, 0, 0);
  }
}
