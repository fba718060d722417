// What the screens share: which screen is in front, the device's status, the scanner settings
// and the wedge assembler, and the shell's own actions (set by main.ts), so a screen can move
// to another or refresh the status line without importing the shell.
import type { Status } from "./api";
import { loadSettings, wedgeConfig, type Settings } from "./settings";
import { WedgeAssembler } from "./wedge";

export type ScreenId = "receive" | "ship" | "sell" | "inspect" | "service" | "lookup" | "flags" | "device";

export const SCREENS: { id: ScreenId; label: string; scans: boolean }[] = [
  { id: "receive", label: "Receive", scans: true },
  { id: "ship", label: "Ship", scans: true },
  { id: "sell", label: "Sell", scans: true },
  { id: "inspect", label: "Inspect", scans: true },
  { id: "service", label: "Service", scans: true },
  { id: "lookup", label: "Look up", scans: true },
  { id: "flags", label: "Flags", scans: false },
  { id: "device", label: "Device", scans: false },
];

const settings = loadSettings();

export const state: { screen: ScreenId; status: Status | null; settings: Settings; wedge: WedgeAssembler } = {
  screen: "receive",
  status: null,
  settings,
  wedge: new WedgeAssembler(wedgeConfig(settings)),
};

/** The shell's actions, for the screens. */
export const shell = {
  go: (_id: ScreenId): void => undefined,
  refreshStatus: async (): Promise<void> => undefined,
  renderStatus: (_s: Status): void => undefined,
  /** A scan from any source (the wedge, the manual field, the camera) for the screen in front. */
  scan: async (_raw: string, _since: number): Promise<void> => undefined,
};
