// Service: the unit on the bench, its warranty, claims, repairs with parts fitted and removed,
// warranty registration, and returns refurbished or scrapped.
import { api, errorMessage } from "../api";
import { serviceCard } from "../biography";
import { $, h } from "../dom";
import { measure, say, showError } from "../feedback";
import { warrantyLine } from "../format";
import { shell } from "../state";
import { printable } from "../verdicts";

let benchUnit: string | null = null;
let partsMode: "in" | "out" | null = null;
const parts: { code: string; dir: "in" | "out" }[] = [];

export async function serviceScan(raw: string, since: number) {
  if (partsMode && benchUnit) {
    if (!parts.some((p) => p.code === raw)) parts.push({ code: raw, dir: partsMode });
    say("good", partsMode === "in" ? "Part to fit" : "Part removed", printable(raw), "part");
    measure(since);
    renderParts();
    return;
  }
  benchUnit = raw;
  parts.length = 0;
  setPartsMode(null);
  await showBenchUnit(since);
}

async function showBenchUnit(since?: number) {
  if (!benchUnit) return;
  const life = await api.history(benchUnit);
  $("service-unit").replaceChildren(serviceCard(life));
  $("service-actions").hidden = false;
  $("service-hint").textContent = "Scan another unit to switch, or use the actions below.";
  const w = warrantyLine(life.warranty);
  if (since !== undefined) {
    const flagged = life.flags.some((f) => f.status !== "closed") || life.counterfeit_reports.length > 0;
    say(flagged ? "bad" : w.covered ? "good" : "caution", flagged ? "Flagged unit" : w.covered ? "Under warranty" : "Not covered", w.text, "service");
    measure(since);
  }
  renderParts();
}

function renderParts() {
  $("parts").replaceChildren(
    ...parts.map((p, i) => {
      const remove = h("button", { type: "button", class: "ghost small", "aria-label": "Remove" }, "×");
      remove.addEventListener("click", () => {
        parts.splice(i, 1);
        renderParts();
      });
      return h("li", { dataset: { dir: p.dir } }, `${p.dir === "in" ? "Fit" : "Remove"} ${printable(p.code)}`, remove);
    }),
  );
}

function setPartsMode(mode: "in" | "out" | null) {
  partsMode = mode;
  $("parts-in-mode").setAttribute("aria-pressed", String(mode === "in"));
  $("parts-out-mode").setAttribute("aria-pressed", String(mode === "out"));
}
$("parts-in-mode").addEventListener("click", (e) => {
  setPartsMode(partsMode === "in" ? null : "in");
  (e.currentTarget as HTMLElement).blur();
});
$("parts-out-mode").addEventListener("click", (e) => {
  setPartsMode(partsMode === "out" ? null : "out");
  (e.currentTarget as HTMLElement).blur();
});

async function serviceAction(work: () => Promise<string>) {
  try {
    const done = await work();
    (document.activeElement as HTMLElement | null)?.blur();
    await showBenchUnit();
    say("good", "Recorded", done, "recorded");
    void shell.refreshStatus();
  } catch (err) {
    showError(errorMessage(err));
  }
}

$<HTMLFormElement>("claim").addEventListener("submit", async (e) => {
  e.preventDefault();
  if (!benchUnit) return;
  const defect = $<HTMLInputElement>("claim-defect").value;
  const note = $<HTMLInputElement>("claim-note").value;
  try {
    const r = await api.claimWarranty(benchUnit, defect, note || null);
    $<HTMLInputElement>("claim-defect").value = "";
    $<HTMLInputElement>("claim-note").value = "";
    (document.activeElement as HTMLElement | null)?.blur();
    await showBenchUnit();
    const v = r.validation;
    say(v.accepted ? (v.provisional ? "caution" : "good") : "bad", v.accepted ? "Claim valid" : "Claim refused", v.reason, `claim_${v.outcome}`);
  } catch (err) {
    showError(errorMessage(err));
  }
});

$<HTMLFormElement>("repair").addEventListener("submit", (e) => {
  e.preventDefault();
  if (!benchUnit) return;
  const unit = benchUnit;
  const fitted = parts.filter((p) => p.dir === "in").map((p) => p.code);
  const removed = parts.filter((p) => p.dir === "out").map((p) => p.code);
  const order = $<HTMLInputElement>("repair-order").value.trim() || null;
  void serviceAction(async () => {
    await api.recordRepair(unit, fitted, removed, order);
    parts.length = 0;
    setPartsMode(null);
    $<HTMLInputElement>("repair-order").value = "";
    return `Repair logged: ${fitted.length} part(s) fitted, ${removed.length} removed.`;
  });
});

$<HTMLFormElement>("register").addEventListener("submit", (e) => {
  e.preventDefault();
  if (!benchUnit) return;
  const unit = benchUnit;
  const owner = $<HTMLInputElement>("register-owner").value;
  void serviceAction(async () => {
    await api.registerWarranty(unit, owner);
    $<HTMLInputElement>("register-owner").value = "";
    return `Warranty registered to ${owner.trim()}.`;
  });
});

for (const outcome of ["refurbished", "scrapped"] as const) {
  $(`return-${outcome}`).addEventListener("click", () => {
    if (!benchUnit) return;
    const unit = benchUnit;
    void serviceAction(async () => {
      await api.returnUnit(unit, outcome);
      return outcome === "refurbished" ? "Returned and refurbished: it keeps its serial." : "Returned and scrapped: its life ends here.";
    });
  });
}
