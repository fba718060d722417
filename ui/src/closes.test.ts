import { describe, expect, it } from "vitest";
import type { Manifest } from "./api";
import { closeLine, closeLines, needsReview } from "./closes";

describe("a receipt's closes", () => {
  it("says who closed it, when and with what", () => {
    expect(closeLine({ by: "dev-a", org: "dist-a", at: "2026-01-02T10:00:00+01:00", note: "4 missing", discrepancies: null })).toBe(
      "Closed by dev-a (dist-a) on 2026-01-02 10:00 — 4 missing",
    );
    expect(closeLine({ by: "old-1", org: null, at: "2026-01-02T10:00:00Z", note: null, discrepancies: null })).toBe(
      "Closed by old-1 on 2026-01-02 10:00 — no note",
    );
  });

  it("shows both closes of a receipt closed on two devices, in the ledger's order", () => {
    const m: Pick<Manifest, "closes" | "review"> = {
      closes: [
        { by: "dev-a", org: "dist-a", at: "2026-01-02T10:00:00+01:00", note: "4 missing", discrepancies: null },
        { by: "dev-b", org: "dist-a", at: "2026-01-02T10:05:00+01:00", note: "6 missing", discrepancies: null },
      ],
      review: ["closed on 2 devices that had seen different receipts"],
    };
    expect(closeLines(m)).toEqual([
      "Closed by dev-a (dist-a) on 2026-01-02 10:00 — 4 missing",
      "Closed by dev-b (dist-a) on 2026-01-02 10:05 — 6 missing",
    ]);
    expect(needsReview(m)).toBe(true);
  });

  it("reads a manifest from an older core, with no closes or review", () => {
    expect(closeLines({})).toEqual([]);
    expect(needsReview({})).toBe(false);
  });
});
