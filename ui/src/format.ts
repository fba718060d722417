// Words for what the ledger says: pure functions, so the screens stay simple and testable.
import type { Custody, Flag, FlagUnit, LifecycleStep, Progress, Quarantine, Status, Warranty } from "./api";

/** "held_by_partner" → "Held by partner". */
export function words(snake: string): string {
  const s = snake.replace(/_/g, " ").trim();
  return s ? s[0].toUpperCase() + s.slice(1) : s;
}

/** The day part of an RFC 3339 time, for lists. */
export function day(time: string | null | undefined): string {
  return time ? time.slice(0, 10) : "—";
}

/** A unit's cover in one line, and whether it is covered now. */
export function warrantyLine(w: Warranty | null): { text: string; covered: boolean } {
  if (!w) return { text: "No warranty policy is known for this product", covered: false };
  const base = { sale: "the sale", registration: "registration", manufacture: "manufacture" }[w.starts_at];
  // A returned or refurbished unit sold or registered again is covered anew from then.
  const from = w.renewed_after ? `${base}, renewed after its return on ${day(w.renewed_after)}` : base;
  if (w.in_period) {
    const left = w.remaining_days === 1 ? "1 day left" : `${w.remaining_days} days left`;
    return { text: `Covered until ${day(w.end)} · ${left} (${w.months} months from ${from})`, covered: true };
  }
  return { text: `Cover ended on ${day(w.end)} (${w.months} months from ${from})`, covered: false };
}

/** Who holds the unit and where, in one line. */
/** A hold in words: "In quarantine since 2026-11-20 (by dist-a): reason — do not sell or ship". */
export function quarantineLine(q: Quarantine): string {
  return `In quarantine since ${q.since.slice(0, 10)} (by ${q.org}): ${q.reason} — do not sell or ship`;
}

export function custodyLine(c: Custody): string {
  const parts = [words(c.state)];
  if (c.custodian) parts.push(c.site ? `${c.custodian} · ${c.site}` : c.custodian);
  if (c.installed_in) parts.push(`fitted in ${c.installed_in}`);
  return parts.join(" — ");
}

export interface Discrepancy {
  kind: string;
  label: string;
  units: string[];
}

/** A manifest's discrepancies, worst first, only the kinds that have units. */
export function discrepancies(p: Progress): Discrepancy[] {
  const all: Discrepancy[] = [
    { kind: "recalled", label: "Recalled", units: p.recalled ?? [] },
    { kind: "expired", label: "Expired", units: p.expired ?? [] },
    { kind: "wrong_product", label: "Wrong product", units: p.wrong_product },
    { kind: "unexpected", label: "Not on the manifest", units: p.unexpected },
    { kind: "duplicates", label: "Scanned twice", units: p.duplicates },
    { kind: "missing", label: "Still missing", units: p.missing },
  ];
  return all.filter((d) => d.units.length > 0);
}

/** The moves offered from a flag's current status, as the ledger's lifecycle allows them
 * (never backwards; closed is the end). A status the app does not know moves as a new flag. */
export function flagMoves(lifecycle: LifecycleStep[], status: string): string[] {
  const step = lifecycle.find((s) => s.status === status) ?? lifecycle[0];
  return step ? step.moves : [];
}

/** Moves that must say why (the ledger refuses them without a note). */
export function needsNote(lifecycle: LifecycleStep[], to: string): boolean {
  return lifecycle.some((s) => s.status === to && s.needs_note);
}

/** Open flags first, in lifecycle order (new before seen…), then closed; newest first within a
 * status. */
export function sortFlags(lifecycle: LifecycleStep[], flags: Flag[]): Flag[] {
  const rank = (f: Flag) => {
    const i = lifecycle.findIndex((s) => s.status === f.status);
    return lifecycle[i]?.moves.length === 0 ? 100 : i < 0 ? 0 : i;
  };
  return [...flags].sort((a, b) => rank(a) - rank(b) || b.raised_at.localeCompare(a.raised_at));
}

/** What a flag lists, in one line: the unit it names, or how many units its cause covers and
 * how many of those the hub has not found accounted for yet. */
export function unitsLine(f: Flag): string {
  const units = f.units ?? 1;
  if (units <= 1) return f.epc;
  const open = f.open_units ?? units;
  const left = open === units ? "none accounted for yet" : open === 0 ? "all accounted for" : `${units - open} accounted for, ${open} open`;
  return `${units} units · ${left} · first ${f.epc}`;
}

/** A listed unit in one line: open, or accounted for and why. */
export function listedUnitLine(u: FlagUnit): string {
  return u.resolved ? `${u.epc} — accounted for: ${u.resolved}` : `${u.epc} — open`;
}

/** Whether scanned text is an enrollment token rather than a product code. */
export function isEnrollmentToken(raw: string): boolean {
  return /^CUSTODIAN1\.[A-Za-z0-9_\-.=]+$/.test(raw.trim());
}

/** The link to the hub in one line for the status bar: online (and still catching up when a
 * sync stopped short), offline, or refused (revoked, or not the pinned hub), which retrying
 * will not mend. */
export function linkLine(link: Status["link"], waiting: number): string {
  const queued = waiting ? ` · ${waiting} waiting to sync` : "";
  switch (link.state) {
    case "online":
      return link.detail ? `Online — ${link.detail}` : `Online${queued}`;
    case "offline":
      return `Offline — verdicts are provisional${queued}`;
    case "refused":
      return `Refused by the hub — ${link.detail ?? "sync is not accepted"}${queued}`;
    default:
      return `Not synced yet${queued}`;
  }
}
