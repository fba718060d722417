import { describe, expect, it } from "vitest";
import type { Flag, Progress, Warranty } from "./api";
import { discrepancies, flagMoves, isEnrollmentToken, linkLine, listedUnitLine, needsNote, quarantineLine, sortFlags, unitsLine, warrantyLine, words } from "./format";
import lifecycle from "./flag-lifecycle.json";
import { defaults, parseSettings, wedgeConfig } from "./settings";

const cover: Warranty = {
  months: 24,
  starts_at: "sale",
  start: "2026-11-01T10:00:00+01:00",
  end: "2028-11-01T10:00:00+01:00",
  in_period: true,
  remaining_days: 708,
  registered_owner: null,
  claim_threshold: 3,
};

describe("words for the ledger", () => {
  it("says a unit is in quarantine, since when, by whom and why", () => {
    const q = { event: "ni:///sha-256;00", since: "2026-11-20T09:30:00+01:00", org: "dist-a", site: "dc", reason: "crushed carton" };
    expect(quarantineLine(q)).toBe("In quarantine since 2026-11-20 (by dist-a): crushed carton — do not sell or ship");
  });

  it("says how long a unit is covered, and from what", () => {
    expect(warrantyLine(cover)).toEqual({ text: "Covered until 2028-11-01 · 708 days left (24 months from the sale)", covered: true });
    expect(warrantyLine({ ...cover, in_period: false, remaining_days: 0 }).text).toBe(
      "Cover ended on 2028-11-01 (24 months from the sale)",
    );
    expect(warrantyLine(null).covered).toBe(false);
    expect(warrantyLine({ ...cover, renewed_after: "2027-03-02T10:00:00+01:00" }).text).toBe(
      "Covered until 2028-11-01 · 708 days left (24 months from the sale, renewed after its return on 2027-03-02)",
    );
  });

  it("lists only the discrepancies present, worst first", () => {
    const p: Progress = {
      expected: 3, scanned: 2, missing: ["a"], unexpected: [], wrong_product: ["b"], duplicates: [], expired: [], recalled: ["c"],
    };
    expect(discrepancies(p).map((d) => d.kind)).toEqual(["recalled", "wrong_product", "missing"]);
  });

  it("moves flags only forward through the lifecycle the ledger enforces", () => {
    // The lifecycle as the app's flag_lifecycle command returns it (a ledger test holds this
    // file to the Rust rules).
    expect(flagMoves(lifecycle, "new")).toEqual(["seen", "under_investigation", "escalated", "closed"]);
    expect(flagMoves(lifecycle, "escalated")).toEqual(["closed"]);
    expect(flagMoves(lifecycle, "closed")).toEqual([]);
    expect(flagMoves(lifecycle, "from-a-newer-hub")).toEqual(flagMoves(lifecycle, "new"));
    expect(["seen", "under_investigation", "escalated", "closed"].filter((to) => needsNote(lifecycle, to))).toEqual(["escalated", "closed"]);
    const f = (id: string, status: string, raised_at: string): Flag => ({ id, kind: "diversion", epc: "", reason: "", raised_at, status });
    expect(sortFlags(lifecycle, [f("a", "closed", "3"), f("b", "seen", "1"), f("c", "new", "0"), f("d", "seen", "2")]).map((x) => x.id)).toEqual([
      "c", "d", "b", "a",
    ]);
  });

  it("recognises an enrollment token among scans", () => {
    expect(isEnrollmentToken("CUSTODIAN1.eyJhIjoxfQ.sig-_")).toBe(true);
    expect(isEnrollmentToken("0104012345000016")).toBe(false);
    expect(words("held_by_partner")).toBe("Held by partner");
  });
});

describe("settings", () => {
  it("falls back to defaults for anything missing or malformed", () => {
    expect(parseSettings(null)).toEqual(defaults);
    expect(parseSettings("{not json")).toEqual(defaults);
    expect(parseSettings(JSON.stringify({ maxGapMs: -3, layout: "dvorak", sound: "yes" }))).toEqual(defaults);
    const s = parseSettings(JSON.stringify({ terminator: "Tab", prefix: "~", maxGapMs: 60, layout: "azerty", sound: false }));
    expect(s).toMatchObject({ terminator: "Tab", prefix: "~", maxGapMs: 60, layout: "azerty", sound: false, vibration: true });
    expect(wedgeConfig(s)).toMatchObject({ terminator: "Tab", prefix: "~", maxGapMs: 60 });
  });
});

describe("the link to the hub", () => {
  it("says a revoked device is refused and why, not that it is offline", () => {
    const line = linkLine({ state: "refused", detail: "hub refused the request (403): this device was revoked by its hub" }, 3);
    expect(line).toBe("Refused by the hub — hub refused the request (403): this device was revoked by its hub · 3 waiting to sync");
  });
  it("says a sync that stopped short is still catching up", () => {
    expect(linkLine({ state: "online", detail: "still catching up: 120 events wait to go to the hub" }, 120)).toBe(
      "Online — still catching up: 120 events wait to go to the hub",
    );
    expect(linkLine({ state: "online", detail: null }, 0)).toBe("Online");
  });
  it("keeps offline and never-synced apart", () => {
    expect(linkLine({ state: "offline", detail: "unreachable" }, 2)).toBe("Offline — verdicts are provisional · 2 waiting to sync");
    expect(linkLine({ state: "unknown", detail: null }, 0)).toBe("Not synced yet");
  });
});

describe("flags that list units", () => {
  const flag: Flag = { id: "flag-1", kind: "out_of_sequence", epc: "https://id.gs1.org/01/04012345000016/21/A1", reason: "r", raised_at: "2026-11-20T09:30:00+01:00", status: "new" };

  it("names the one unit of a flag about one unit", () => {
    expect(unitsLine(flag)).toBe(flag.epc);
    expect(unitsLine({ ...flag, units: 1, open_units: 0 })).toBe(flag.epc);
  });

  it("counts the units of a cause and those still open", () => {
    expect(unitsLine({ ...flag, units: 1500, open_units: 1500 })).toBe(`1500 units · none accounted for yet · first ${flag.epc}`);
    expect(unitsLine({ ...flag, units: 1500, open_units: 12 })).toBe(`1500 units · 1488 accounted for, 12 open · first ${flag.epc}`);
    expect(unitsLine({ ...flag, units: 1500, open_units: 0 })).toBe(`1500 units · all accounted for · first ${flag.epc}`);
  });

  it("says of a listed unit whether it is open or accounted for, and why", () => {
    expect(listedUnitLine({ flag: "flag-1", epc: "u1", event: "e" })).toBe("u1 — open");
    expect(listedUnitLine({ flag: "flag-1", epc: "u1", event: "e", resolved: "matching shipment arrived: ni:///x" })).toBe(
      "u1 — accounted for: matching shipment arrived: ni:///x",
    );
  });
});

