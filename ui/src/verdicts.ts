// How each verdict looks and sounds: a word, a tone (colour), and a beep pattern.
import type { VerdictKind } from "./api";

export type Tone = "good" | "caution" | "bad";

export const VERDICTS: Record<VerdictKind, { word: string; tone: Tone }> = {
  ok: { word: "OK", tone: "good" },
  provisional: { word: "Provisional", tone: "caution" },
  not_on_manifest: { word: "Not on manifest", tone: "caution" },
  duplicate: { word: "Duplicate", tone: "caution" },
  wrong_product: { word: "Wrong product", tone: "bad" },
  expired: { word: "Expired", tone: "bad" },
  recalled: { word: "Recalled", tone: "bad" },
  reported_counterfeit: { word: "Counterfeit", tone: "bad" },
  signature_invalid: { word: "Signature invalid", tone: "bad" },
  already_sold: { word: "Already sold", tone: "bad" },
  quarantined: { word: "Quarantined", tone: "bad" },
  unreadable: { word: "Unreadable", tone: "bad" },
};

/** Shows GS as a visible mark, for lists of raw scans. */
export function printable(raw: string): string {
  return raw.replace(/\u001d/g, "[GS]");
}
