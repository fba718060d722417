import { describe, expect, it } from "vitest";
import { VERDICTS, printable } from "./verdicts";

describe("verdict presentation", () => {
  it("gives every verdict a word and a tone, danger for counterfeits", () => {
    expect(Object.keys(VERDICTS)).toHaveLength(12);
    expect(VERDICTS.reported_counterfeit.tone).toBe("bad");
    expect(VERDICTS.quarantined.tone).toBe("bad");
    expect(VERDICTS.ok.tone).toBe("good");
    expect(VERDICTS.provisional.tone).toBe("caution");
  });

  it("shows GS separators visibly", () => {
    expect(printable("01\u001d21")).toBe("01[GS]21");
  });
});
