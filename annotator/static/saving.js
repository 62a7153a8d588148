// The save queue: every change goes to the server one at a time, in order, and none is lost.
//
// - A change that cannot reach the server (it is stopped, the network is down, it answered
//   5xx) stays queued and is retried with a growing delay; the status says "Not saved" in red
//   until it lands. Leaving the page while changes wait asks first.
// - A change the server refuses (4xx: a rule, a stale copy) is dropped and the reason shown.
// - A change names its interval by value (`target`). When an earlier queued change edits that
//   same interval, the later ones are pointed at its new value, so a fast "accept, then move
//   the end" still hits the interval the user meant, and a change whose interval is gone is
//   refused by the server instead of hitting a neighbour.

import { sameInterval } from "./timeline.js";

const RETRY_DELAYS_MS = [500, 1000, 2000, 4000, 8000];

export class SaveQueue {
  constructor({ onStatus, onSaved, onRefused }) {
    this.onStatus = onStatus; // (text, kind)
    this.onSaved = onSaved; // (answer, change)
    this.onRefused = onRefused; // (error, change)
    this.items = [];
    this.running = false;
    this.failures = 0;
    window.addEventListener("beforeunload", (event) => {
      if (this.items.length) {
        event.preventDefault();
        event.returnValue = "";
      }
    });
  }

  get pending() {
    return this.items.length;
  }

  /** Queue `change` = {send(): Promise<answer>, target?: interval}. */
  push(change) {
    this.items.push(change);
    this.onStatus(`Saving… (${this.items.length})`, "saving");
    if (!this.running) this.run();
  }

  async run() {
    this.running = true;
    while (this.items.length) {
      const change = this.items[0];
      try {
        const answer = await change.send(change.target);
        this.items.shift();
        this.failures = 0;
        if (change.target && answer.selected) {
          for (const later of this.items) {
            if (sameInterval(later.target, change.target)) later.target = answer.selected;
          }
        }
        this.onSaved(answer, change);
      } catch (error) {
        const retry = !error.status || error.status >= 500 || error.status === 408;
        if (!retry) {
          this.items.shift();
          this.onRefused(error, change);
          continue;
        }
        const delay = RETRY_DELAYS_MS[Math.min(this.failures, RETRY_DELAYS_MS.length - 1)];
        this.failures += 1;
        this.onStatus(
          `Not saved: ${error.message} — retrying in ${Math.round(delay / 1000) || 1} s ` +
            `(${this.items.length} waiting)`,
          "failed",
        );
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
    this.running = false;
  }
}
