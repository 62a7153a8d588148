// Talking to the annotator's server: JSON in, JSON out, errors as exceptions with a message.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function call(method, path, body) {
  const options = { method, headers: {} };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, options);
  } catch (error) {
    throw new ApiError(0, "the annotator server cannot be reached (is `uecity annotate` running?)");
  }
  let data = null;
  try {
    data = await response.json();
  } catch (error) {
    data = null;
  }
  if (!response.ok) {
    throw new ApiError(response.status, (data && data.error) || `HTTP ${response.status}`);
  }
  return data;
}

const videoPath = (videoId) => `/api/videos/${encodeURIComponent(videoId)}`;

export const api = {
  videos: () => call("GET", "/api/videos"),
  vocabulary: () => call("GET", "/api/vocabulary"),
  addMotionLabel: (label) => call("POST", "/api/vocabulary/motion_labels", { label }),
  video: (videoId) => call("GET", videoPath(videoId)),
  frameUrl: (videoId, frame) => `${videoPath(videoId)}/frames/${frame}`,
  motion: (videoId) => call("GET", `${videoPath(videoId)}/motion`),
  revision: (videoId) => call("GET", `${videoPath(videoId)}/revision`),
  putMotion: (videoId, baseRevision, intervals) =>
    call("PUT", `${videoPath(videoId)}/motion`, { base_revision: baseRevision, intervals }),
  edit: (videoId, baseRevision, author, edit) =>
    call("POST", `${videoPath(videoId)}/motion/edits`, {
      base_revision: baseRevision,
      author,
      ...edit,
    }),
};
