// Keyboard-wedge scan assembly.
//
// USB and Bluetooth HID scanners type like a keyboard, only much faster: a burst of keys with
// a few milliseconds between them, ended by a terminator (Enter by default). The assembler
// tells such a burst from a person typing and turns it into one scan, wherever the focus is.
// It works on keydown events, because a GS (ASCII 29, the GS1 separator) typed into an input
// never reaches its value.
//
// A burst is judged as a whole, not gap by gap: Bluetooth links and busy hosts deliver a
// scanner's keys with the odd pause of a few hundred milliseconds, and cutting the burst there
// would turn one scan into two pieces of nonsense. So a sequence runs until a pause longer
// than `hiccupMs` (or a terminator), and it is a scan when it is long enough and nearly all of
// its gaps are scanner-quick (≤ `maxGapMs`). A person's gaps are 80–300 ms; a scanner's 1–10.
//
// While a field has the focus, the first key of a sequence goes through (it may be typing) and
// the rest are held while they come scanner-quick; a pause hands the held keys to the field,
// unless the sequence has already shown itself a scanner burst.

export const GS = "\u001d";

export interface WedgeConfig {
  /** Longest gap between two keys that counts as scanner-quick, in ms. */
  maxGapMs: number;
  /** Longest pause a scanner burst may contain (Bluetooth, a busy host), in ms. */
  hiccupMs: number;
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
  hiccupMs: 300,
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

/** How the last sequence ended by a terminator was typed: the scanner timing test shows it. */
export interface BurstTiming {
  chars: number;
  /** Gaps between its keys, the terminator's included. */
  gaps: number;
  meanGapMs: number;
  maxGapMs: number;
  /** Gaps longer than `maxGapMs` (pauses the burst survived). */
  slowGaps: number;
  scan: boolean;
}

/** The character a key event carries, GS included; `null` for keys that carry none. */
export function charOf(k: Pick<Key, "key" | "ctrl" | "alt">, config: WedgeConfig): string | null {
  if (k.key === GS || config.gsSubstitutes.includes(k.key)) return GS;
  // Many scanners send GS as Ctrl+] (the ASCII control chord for 29).
  if (k.ctrl && (k.key === "]" || k.key === "5")) return GS;
  if (k.ctrl || k.alt) return null;
  return k.key.length === 1 ? k.key : null;
}

const MODIFIERS = ["Shift", "Control", "Alt", "AltGraph", "CapsLock", "Meta"];

export class WedgeAssembler {
  private buffer = "";
  private startAt = 0;
  private lastAt = -Infinity;
  private leaked = 0;
  private gaps = 0;
  private slowGaps = 0;
  private maxGap = 0;
  /** The timing of the last sequence a terminator ended. */
  last: BurstTiming | null = null;
  /** Sequences a terminator has ended, scans or not. */
  ended = 0;

  constructor(private readonly config: WedgeConfig = defaultConfig) {}

  push(k: Key): Outcome {
    const gap = k.at - this.lastAt;
    this.lastAt = k.at;
    if (k.key === this.config.terminator) return this.terminate(gap, k.at);
    const ch = charOf(k, this.config);
    if (ch === null) {
      if (MODIFIERS.includes(k.key)) return { action: "pass" };
      const release = this.buffer.slice(this.leaked);
      this.reset();
      return release ? { action: "pass", release } : { action: "pass" };
    }
    if (this.buffer.length > 0 && this.continues(gap, k.editable)) {
      this.note(gap);
      this.buffer += ch;
      return { action: "swallow" };
    }
    // A new sequence: in a focused field the first key goes through (it may be typing).
    const release = this.buffer.slice(this.leaked);
    this.reset();
    this.buffer = ch;
    this.startAt = k.at;
    this.leaked = k.editable && ch !== GS ? 1 : 0;
    const action = this.leaked ? "pass" : "swallow";
    return release ? { action, release } : { action };
  }

  /**
   * Ends a sequence that stopped without a terminator: once `now` is more than `hiccupMs`
   * after its last key, the held characters go to the focused field (typing, or a scanner
   * without a suffix typing into a field). Call it from a timer while `pending`.
   */
  flush(now: number): string | null {
    if (!this.buffer || now - this.lastAt <= this.config.hiccupMs) return null;
    const release = this.buffer.slice(this.leaked);
    this.reset();
    return release || null;
  }

  /** True while characters are held for a sequence that has not ended. */
  get pending(): boolean {
    return this.buffer.length > 0;
  }

  /** Whether a key after `gap` ms belongs to the sequence under way. */
  private continues(gap: number, editable: boolean): boolean {
    if (gap <= this.config.maxGapMs) return true;
    if (gap > this.config.hiccupMs) return false;
    // Nothing is held from a field: the pause costs nothing, the whole sequence is judged at
    // its end. In a field, held keys wait only for a sequence that is clearly a scanner's.
    return !editable || this.scannerPaced(this.gaps, this.slowGaps);
  }

  /** At least three gaps, and nearly all of them scanner-quick: no person types like that. */
  private scannerPaced(gaps: number, slow: number): boolean {
    return gaps >= 3 && slow * 8 <= gaps;
  }

  private note(gap: number): void {
    this.gaps += 1;
    if (gap > this.config.maxGapMs) this.slowGaps += 1;
    this.maxGap = Math.max(this.maxGap, gap);
  }

  private terminate(gap: number, at: number): Outcome {
    const text = this.buffer;
    const leaked = this.leaked;
    if (!text) return { action: "pass" };
    const within = gap <= this.config.hiccupMs;
    if (within) this.note(gap);
    const gaps = this.gaps;
    const slow = this.slowGaps;
    const scan =
      within &&
      text.length >= this.config.minLength &&
      // A one-key scan has a single gap (its terminator); it must be quick.
      (gaps >= 3 ? this.scannerPaced(gaps, slow) : slow === 0);
    this.ended += 1;
    this.last = {
      chars: text.length,
      gaps,
      meanGapMs: gaps ? (at - this.startAt) / gaps : 0,
      maxGapMs: this.maxGap,
      slowGaps: slow,
      scan,
    };
    this.reset();
    if (scan) {
      let out = text;
      if (this.config.prefix && out.startsWith(this.config.prefix)) out = out.slice(this.config.prefix.length);
      return { action: "swallow", scan: out, retract: leaked };
    }
    const release = text.slice(leaked);
    return release ? { action: "pass", release } : { action: "pass" };
  }

  private reset(): void {
    this.buffer = "";
    this.leaked = 0;
    this.gaps = 0;
    this.slowGaps = 0;
    this.maxGap = 0;
  }
}
