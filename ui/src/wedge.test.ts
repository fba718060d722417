import { describe, expect, it } from "vitest";
import { GS, WedgeAssembler, defaultConfig, type Key } from "./wedge";

/** Types `text` then Enter, `gap` ms apart, and returns the scans and what was released. */
function type(a: WedgeAssembler, text: string, start: number, gap: number | ((i: number) => number), editable = false) {
  const gapAt = typeof gap === "number" ? () => gap : gap;
  const scans: string[] = [];
  let released = "";
  let passed = "";
  let retracted = 0;
  /** What a focused field would hold afterwards. */
  let field = "";
  let t = start;
  const keys: Key[] = [...text].map((c, i) => ({ key: c, ctrl: false, alt: false, at: (t += gapAt(i)), editable }));
  keys.push({ key: "Enter", ctrl: false, alt: false, at: (t += gapAt(text.length)), editable });
  for (const k of keys) {
    const o = a.push(k);
    if (o.scan !== undefined) scans.push(o.scan);
    if (o.release) released += o.release;
    if (o.retract) retracted += o.retract;
    if (o.retract) field = field.slice(0, Math.max(0, field.length - o.retract));
    if (o.release) field += o.release;
    if (o.action === "pass" && k.key.length === 1) {
      passed += k.key;
      field += k.key;
    }
  }
  return { scans, released, passed, retracted, field, end: t };
}

describe("WedgeAssembler", () => {
  it("turns a fast burst ending in Enter into one scan, GS included", () => {
    const a = new WedgeAssembler();
    const code = `0104012345000016${GS}21ABC123`;
    expect(type(a, code, 0, 4).scans).toEqual([code]);
  });

  it("maps Ctrl+] and substitute characters to GS", () => {
    const a = new WedgeAssembler();
    let t = 0;
    const out: string[] = [];
    for (const k of [..."0104012345000016"].map((key) => ({ key, ctrl: false, alt: false }))
      .concat([{ key: "]", ctrl: true, alt: false }], [..."21X\u241d10L1"].map((key) => ({ key, ctrl: false, alt: false })))
      .concat([{ key: "Enter", ctrl: false, alt: false }])) {
      const o = a.push({ ...k, at: (t += 3), editable: false });
      if (o.scan) out.push(o.scan);
    }
    expect(out).toEqual([`0104012345000016${GS}21X${GS}10L1`]);
  });

  it("does not treat a person typing as a scan", () => {
    const a = new WedgeAssembler();
    const r = type(a, "hello world", 0, 180, true);
    expect(r.scans).toEqual([]);
    expect(r.passed).toBe("hello world");
  });

  it("takes back the first character of a burst that reached a focused field", () => {
    const a = new WedgeAssembler();
    const r = type(a, "0104012345000016", 0, 5, true);
    expect(r.scans).toEqual(["0104012345000016"]);
    expect(r.retracted).toBe(1);
  });

  it("gives back held characters when a fast pair turns out to be typing", () => {
    const a = new WedgeAssembler();
    const r = type(a, "ab", 0, 10, true);
    expect(r.scans).toEqual([]);
    expect(r.passed + r.released).toBe("ab");
  });

  it("neither drops nor merges scans at 30 scans a second", () => {
    const a = new WedgeAssembler();
    const codes = Array.from({ length: 300 }, (_, i) => `01040123450000162${GS}21S${String(i).padStart(6, "0")}`);
    const got: string[] = [];
    let t = 0;
    for (const c of codes) {
      // 33 ms per scan: keys 0.1 ms apart, then a pause before the next trigger pull.
      const r = type(a, c, t, 0.1);
      got.push(...r.scans);
      t = r.end + (33 - c.length * 0.1);
    }
    expect(got).toEqual(codes);
  });

  it("strips a configured prefix and honours Tab as terminator", () => {
    const a = new WedgeAssembler({ ...defaultConfig, prefix: "~", terminator: "Tab" });
    let t = 0;
    const out: string[] = [];
    for (const key of [..."~0104012345000016", "Tab"]) {
      const o = a.push({ key, ctrl: false, alt: false, at: (t += 2), editable: false });
      if (o.scan) out.push(o.scan);
    }
    expect(out).toEqual(["0104012345000016"]);
  });

  const unit = `0104012345000016${GS}21SN0000000042${GS}10LOT7`;

  it("keeps a burst whole through a pause of a busy host or a Bluetooth link", () => {
    for (const at of [1, 5, 20, unit.length - 1, unit.length]) {
      const a = new WedgeAssembler();
      const r = type(a, unit, 0, (i) => (i === at ? 250 : 4));
      expect(r.scans, `pause before key ${at}`).toEqual([unit]);
      expect(a.last).toMatchObject({ chars: unit.length, slowGaps: 1, maxGapMs: 250, scan: true });
    }
  });

  it("keeps a burst whole in a focused field once it is clearly a scanner's", () => {
    const a = new WedgeAssembler();
    const r = type(a, unit, 0, (i) => (i === 12 ? 200 : 3), true);
    expect(r.scans).toEqual([unit]);
    expect(r.retracted).toBe(1);
    expect(r.field).toBe("");
  });

  it("splits at a pause longer than the longest hiccup", () => {
    const a = new WedgeAssembler();
    const r = type(a, unit, 0, (i) => (i === 20 ? 900 : 4));
    expect(r.scans).toEqual([unit.slice(20)]);
  });

  it("is not fooled by a person typing with a few quick key rollovers", () => {
    const a = new WedgeAssembler();
    // Mostly 120 ms apart, every fourth pair rolled over at 15 ms.
    const r = type(a, "order 4711 for repair", 0, (i) => (i % 4 === 3 ? 15 : 120), true);
    expect(r.scans).toEqual([]);
    expect(r.field).toBe("order 4711 for repair");
  });

  it("measures the last burst for the scanner timing test", () => {
    const a = new WedgeAssembler();
    type(a, "12345678", 100, 5);
    expect(a.last).toEqual({ chars: 8, gaps: 8, meanGapMs: 5, maxGapMs: 5, slowGaps: 0, scan: true });
    type(a, "12345678", 1000, 90);
    expect(a.last?.scan).toBe(false);
    expect(a.last?.slowGaps).toBe(8);
    // Both sequences ended; a terminator with nothing before it ends none.
    expect(a.ended).toBe(2);
    a.push({ key: "Enter", ctrl: false, alt: false, at: 5000, editable: false });
    expect(a.ended).toBe(2);
  });

  it("hands held keys to the field when a burst stops without a terminator", () => {
    const a = new WedgeAssembler();
    let field = "";
    let t = 0;
    for (const key of "battery fault") {
      const o = a.push({ key, ctrl: false, alt: false, at: (t += 3), editable: true });
      if (o.action === "pass") field += key;
    }
    expect(a.pending).toBe(true);
    expect(a.flush(t + 100)).toBeNull();
    field += a.flush(t + 301) ?? "";
    expect(field).toBe("battery fault");
    expect(a.pending).toBe(false);
  });
});
