// The device's own settings (scanner, feedback), kept in the webview's storage.
import { defaultConfig, type WedgeConfig } from "./wedge";

export type Layout = "us" | "qwertz" | "azerty" | "auto";

export interface Settings {
  terminator: "Enter" | "Tab";
  prefix: string;
  maxGapMs: number;
  hiccupMs: number;
  layout: Layout;
  sound: boolean;
  vibration: boolean;
  /** The camera to scan with (an id from the app's camera list; empty: the first one). */
  camera: string;
}

export const defaults: Settings = {
  terminator: "Enter",
  prefix: "",
  maxGapMs: defaultConfig.maxGapMs,
  hiccupMs: defaultConfig.hiccupMs,
  layout: "us",
  sound: true,
  vibration: true,
  camera: "",
};

const KEY = "custodian.settings";

/** Settings from stored JSON: anything missing or malformed falls back to the default. */
export function parseSettings(stored: string | null): Settings {
  let raw: Record<string, unknown> = {};
  try {
    const v = stored ? JSON.parse(stored) : {};
    if (v && typeof v === "object") raw = v;
  } catch {
    // A damaged entry is replaced by the defaults.
  }
  const num = (v: unknown, d: number, lo: number, hi: number) =>
    typeof v === "number" && Number.isFinite(v) && v >= lo && v <= hi ? v : d;
  return {
    terminator: raw.terminator === "Tab" ? "Tab" : "Enter",
    prefix: typeof raw.prefix === "string" ? raw.prefix.slice(0, 8) : defaults.prefix,
    maxGapMs: num(raw.maxGapMs, defaults.maxGapMs, 5, 200),
    hiccupMs: num(raw.hiccupMs, defaults.hiccupMs, 50, 2000),
    layout: ["us", "qwertz", "azerty", "auto"].includes(raw.layout as string) ? (raw.layout as Layout) : defaults.layout,
    sound: typeof raw.sound === "boolean" ? raw.sound : defaults.sound,
    vibration: typeof raw.vibration === "boolean" ? raw.vibration : defaults.vibration,
    camera: typeof raw.camera === "string" ? raw.camera.slice(0, 64) : defaults.camera,
  };
}

export function loadSettings(): Settings {
  try {
    return parseSettings(localStorage.getItem(KEY));
  } catch {
    return { ...defaults };
  }
}

export function saveSettings(s: Settings): void {
  try {
    localStorage.setItem(KEY, JSON.stringify(s));
  } catch {
    // Storage unavailable: the settings hold until the app closes.
  }
}

/** The wedge assembler's configuration for these settings. */
export function wedgeConfig(s: Settings): WedgeConfig {
  return { ...defaultConfig, terminator: s.terminator, prefix: s.prefix, maxGapMs: s.maxGapMs, hiccupMs: s.hiccupMs };
}
