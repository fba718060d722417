// Keyboard-wedge scan assembly.
//
// USB and Bluetooth HID scanners type like a keyboard, only much faster: a burst of keys with
// a few milliseconds between them, ended by a terminator (Enter by default). The assembler
// tells such a burst from a person typing and turns it into one scan, wherever the focus is.
// It works on keydown events, because a GS (ASCII 29, the GS1 separator) typed into an input
// never reaches its value.

export const GS = "\u001d";

export interface WedgeConfig {
  /** Longest gap between two keys of one burst, in ms. */
  maxGapMs: number;
  /** Shortest text accepted as a scan. */
  minLength: number;
  /** The key that ends a scan. */
  terminator: "Enter" | "Tab";
  /** Characters some scanners send in place of GS. */
  gsSubstitutes: string[];
  /** Characters a scanner is configured to send before each scan, stripped. */
  prefix: string;
}

export const defaultConfig: WedgeConfig = {
  maxGapMs: 40,
  minLength: 8,
  terminator: "Enter",
  gsSubstitutes: ["\u241d", "\ue01d"],
  prefix: "",
};

export interface Key {
  key: string;
  ctrl: boolean;
  alt: boolean;
  /** Event time in ms. */
  at: number;
  /** Whether an editable field has the focus (its own typing must not be hijacked). */
  editable: boolean;
}

export interface Outcome {
  /** `swallow`: prevent the default action; `pass`: let the key do what it does. */
  action: "pass" | "swallow";
  /** A whole scan, when the burst just ended. */
  scan?: string;
  /** Characters of the burst that reached the focused field before it was recognised. */
  retract?: number;
  /** Characters held back that turned out to be typing: give them to the focused field. */
  release?: string;
}

/** The character a key event carries, GS included; `null` for keys that carry none. */
export function charOf(k: Pick<Key, "key" | "ctrl" | "alt">, config: WedgeConfig): string | null {
  if (k.key === GS || config.gsSubstitutes.includes(k.key)) return GS;
  // Many scanners send GS as Ctrl+] (the ASCII control chord for 29).
  if (k.ctrl && (k.key === "]" || k.key === "5")) return GS;
  if (k.ctrl || k.alt) return null;
  return k.key.length === 1 ? k.key : null;
}

export class WedgeAssembler {
  private buffer = "";
  private lastAt = -Infinity;
  private leaked = 0;

  constructor(private readonly config: WedgeConfig = defaultConfig) {}

  push(k: Key): Outcome {
    const gap = k.at - this.lastAt;
    this.lastAt = k.at;
    const fast = gap <= this.config.maxGapMs;
    if (k.key === this.config.terminator) {
      const text = this.buffer;
      const leaked = this.leaked;
      this.reset();
      let scan = text;
      if (this.config.prefix && scan.startsWith(this.config.prefix)) scan = scan.slice(this.config.prefix.length);
      if (fast && text.length >= this.config.minLength) {
        return { action: "swallow", scan, retract: leaked };
      }
      const release = text.slice(leaked);
      return release ? { action: "pass", release } : { action: "pass" };
    }
    const ch = charOf(k, this.config);
    if (ch === null) {
      if (["Shift", "Control", "Alt", "AltGraph", "CapsLock"].includes(k.key)) return { action: "pass" };
      const release = this.buffer.slice(this.leaked);
      this.reset();
      return release ? { action: "pass", release } : { action: "pass" };
    }
    if (this.buffer.length > 0 && fast) {
      this.buffer += ch;
      return { action: "swallow" };
    }
    // A new sequence: in a focused field the first key goes through (it may be typing).
    const release = this.buffer.slice(this.leaked);
    this.buffer = ch;
    this.leaked = k.editable && ch !== GS ? 1 : 0;
    const action = this.leaked ? "pass" : "swallow";
    return release ? { action, release } : { action };
  }

  private reset(): void {
    this.buffer = "";
    this.leaked = 0;
  }
}
