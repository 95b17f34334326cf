/** Colour-blind-friendlier hues (Okabe–Ito, darkened for white backgrounds), by version number. */
const PALETTE = ["#1f6fd1", "#d55e00", "#009e73", "#a0448c", "#8a6d00", "#0072b2", "#cc3311", "#5d6d7e"];

export function versionColour(version: number): string {
  return PALETTE[(((version - 1) % PALETTE.length) + PALETTE.length) % PALETTE.length];
}
