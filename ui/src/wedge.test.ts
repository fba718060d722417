import { describe, expect, it } from "vitest";
import { GS, WedgeAssembler, defaultConfig, type Key } from "./wedge";

/** Types `text` then Enter, `gap` ms apart, and returns the scans and what was released. */
function type(a: WedgeAssembler, text: string, start: number, gap: number, editable = false) {
  const scans: string[] = [];
  let released = "";
  let passed = "";
  let retracted = 0;
  let t = start;
  const keys: Key[] = [...text].map((c) => ({ key: c, ctrl: false, alt: false, at: (t += gap), editable }));
  keys.push({ key: "Enter", ctrl: false, alt: false, at: (t += gap), editable });
  for (const k of keys) {
    const o = a.push(k);
    if (o.scan !== undefined) scans.push(o.scan);
    if (o.release) released += o.release;
    if (o.retract) retracted += o.retract;
    if (o.action === "pass" && k.key.length === 1) passed += k.key;
  }
  return { scans, released, passed, retracted, end: t };
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
});
