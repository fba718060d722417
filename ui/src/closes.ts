// Words for a receipt's closes: pure functions over what the ledger says, so the receive
// screen stays simple and testable. Which closes exist and what waits for review is decided in
// the ledger; this only words it.
import type { Manifest, ManifestClose } from "./api";

/** "2026-01-02T10:05:00+01:00" → "2026-01-02 10:05" (the closer's own clock). */
function minute(at: string): string {
  return at.length >= 16 ? `${at.slice(0, 10)} ${at.slice(11, 16)}` : at;
}

/** One close in a line: "Closed by dev-a (dist-a) on 2026-01-02 10:00 — 4 missing". */
export function closeLine(c: ManifestClose): string {
  const who = c.org ? `${c.by} (${c.org})` : c.by;
  return `Closed by ${who} on ${minute(c.at)} — ${c.note || "no note"}`;
}

/** Every close of a receipt, earliest first (two devices may have closed it offline). */
export function closeLines(m: Pick<Manifest, "closes">): string[] {
  return (m.closes ?? []).map(closeLine);
}

/** Whether the receipt waits for a person: a scan no close counted, or closes that disagree. */
export function needsReview(m: Pick<Manifest, "review">): boolean {
  return (m.review ?? []).length > 0;
}
