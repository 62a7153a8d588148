// Motion labels: a distinct colour and a key for every label of the vocabulary.
//
// Colours: 24 hand-picked, mutually distinct hues first (enough for the shipped 16 labels and
// more), then golden-angle hues at alternating lightness. Keys: 1…9, 0 for the first ten
// labels, Shift+1…0 for the next ten, Alt+1…0 for ten more; any label at all through the label
// search (L). Keys are read from `event.code`, so they do not depend on the keyboard layout.

const PALETTE = [
  "#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfef45",
  "#fabed4", "#469990", "#dcbeff", "#9a6324", "#fffac8", "#800000", "#aaffc3", "#808000",
  "#ffd8b1", "#000075", "#a9a9a9", "#ffe119", "#00a86b", "#ff7f50", "#7b68ee", "#c71585",
];

export function labelColour(labels, label) {
  const index = labels.indexOf(label);
  const i = index < 0 ? labels.length : index;
  if (i < PALETTE.length) return PALETTE[i];
  const hue = ((i - PALETTE.length) * 137.508) % 360;
  return `hsl(${hue.toFixed(0)} 75% ${i % 2 ? 45 : 65}%)`;
}

const MODIFIERS = ["", "Shift+", "Alt+"];
const DIGITS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0"];

/** The key that picks label number `index` (0-based), or null past the thirtieth. */
export function labelKey(index) {
  if (index >= MODIFIERS.length * DIGITS.length) return null;
  return MODIFIERS[Math.floor(index / DIGITS.length)] + DIGITS[index % DIGITS.length];
}

/** The label index a key event picks, or null if it picks none. */
export function labelIndexOfEvent(event) {
  const match = /^(?:Digit|Numpad)([0-9])$/.exec(event.code || "");
  if (!match || event.ctrlKey || event.metaKey) return null;
  const digit = DIGITS.indexOf(match[1]);
  const group = event.altKey ? 2 : event.shiftKey ? 1 : 0;
  if (event.altKey && event.shiftKey) return null;
  return group * DIGITS.length + digit;
}
