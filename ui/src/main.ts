// The handheld app's shell: screens, the scan path and the verdict feedback. A keyboard-wedge
// scan is taken on every screen without tapping a field, and goes to the screen in front.
import { listen } from "@tauri-apps/api/event";
import { api, errorMessage, type Flag, type History, type LifecycleStep, type Manifest, type Picking, type Status, type Verdict } from "./api";
import { $, h } from "./dom";
import { biography, serviceCard } from "./biography";
import { day, discrepancies, flagMoves, isEnrollmentToken, linkLine, listedUnitLine, needsNote, sortFlags, unitsLine, warrantyLine, words } from "./format";
import { loadSettings, saveSettings, wedgeConfig, type Settings } from "./settings";
import { VERDICTS, printable, type Tone } from "./verdicts";
import { holdButton, holdForm, type HoldAction } from "./hold";
import { closeLines, needsReview } from "./closes";
import { WedgeAssembler } from "./wedge";

type ScreenId = "receive" | "ship" | "sell" | "inspect" | "service" | "lookup" | "flags" | "device";

const SCREENS: { id: ScreenId; label: string; scans: boolean }[] = [
  { id: "receive", label: "Receive", scans: true },
  { id: "ship", label: "Ship", scans: true },
  { id: "sell", label: "Sell", scans: true },
  { id: "inspect", label: "Inspect", scans: true },
  { id: "service", label: "Service", scans: true },
  { id: "lookup", label: "Look up", scans: true },
  { id: "flags", label: "Flags", scans: false },
  { id: "device", label: "Device", scans: false },
];

let screen: ScreenId = "receive";
let status: Status | null = null;
let settings: Settings = loadSettings();
let manifestId: string | null = null;
let manifests: Manifest[] = [];

// --- feedback ---------------------------------------------------------------------------------

/** Times from a scan's last keystroke to its verdict on screen, in ms (the timing test). */
const latencies: number[] = [];
(window as unknown as { custodianLatencies: number[] }).custodianLatencies = latencies;

function say(tone: Tone | "idle", word: string, reason: string, kind = tone as string) {
  const panel = $("verdict");
  panel.dataset.verdict = kind;
  panel.dataset.tone = tone;
  $("verdict-word").textContent = word;
  $("verdict-reason").textContent = reason;
  if (tone === "idle") return;
  const flash = $("flash");
  flash.dataset.tone = tone;
  flash.classList.remove("on");
  void flash.offsetWidth; // restart the animation
  flash.classList.add("on");
  beep(tone);
  if (settings.vibration && "vibrate" in navigator) navigator.vibrate(tone === "good" ? 40 : tone === "caution" ? [60, 50, 60] : [120, 60, 120, 60, 120]);
}

function showVerdict(v: Verdict) {
  const look = VERDICTS[v.verdict];
  const reason = v.provisional && v.verdict !== "provisional" ? `${v.reason} (provisional: confirmed at the next sync)` : v.reason;
  say(look.tone, look.word, reason, v.verdict);
}

function showError(message: string) {
  say("bad", "Not recorded", message, "error");
}

let audio: AudioContext | null = null;
function beep(tone: Tone) {
  if (!settings.sound) return;
  try {
    audio ??= new AudioContext();
    const pattern = tone === "good" ? [880] : tone === "caution" ? [660, 660] : [220, 180, 220];
    pattern.forEach((hz, i) => {
      const osc = audio!.createOscillator();
      const gain = audio!.createGain();
      osc.type = tone === "bad" ? "square" : "sine";
      osc.frequency.value = hz;
      gain.gain.value = 0.15;
      osc.connect(gain).connect(audio!.destination);
      const t = audio!.currentTime + i * 0.14;
      osc.start(t);
      osc.stop(t + 0.1);
    });
  } catch {
    // No audio device: the flash and the words still say it.
  }
}

/** Runs `work` once the frame with the verdict has been painted: what can wait, waits. */
function afterPaint(work: () => void) {
  requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(work, 0)));
}

/** Records when the verdict reached the screen (the frame after it was drawn). */
function measure(since: number) {
  requestAnimationFrame(() =>
    requestAnimationFrame(() => {
      latencies.push(performance.now() - since);
      if (latencies.length > 10000) latencies.shift();
      renderTiming();
    }),
  );
}

// --- scanning ---------------------------------------------------------------------------------

let wedge = new WedgeAssembler(wedgeConfig(settings));
/** What the wedge made of the last burst it ended (the window's tests read it). */
(window as unknown as { custodianWedge: () => { ended: number; last: unknown } }).custodianWedge = () => ({
  ended: wedge.ended,
  last: wedge.last,
});

function isEditable(el: Element | null): el is HTMLInputElement | HTMLTextAreaElement {
  return (el instanceof HTMLInputElement && !["checkbox", "radio", "button", "submit"].includes(el.type)) || el instanceof HTMLTextAreaElement;
}

document.addEventListener(
  "keydown",
  (e) => {
    const focused = document.activeElement;
    const outcome = wedge.push({ key: e.key, ctrl: e.ctrlKey, alt: e.altKey, at: e.timeStamp, editable: isEditable(focused) });
    if (outcome.action === "swallow") {
      e.preventDefault();
      e.stopPropagation();
    }
    if (isEditable(focused)) {
      if (outcome.retract) focused.value = focused.value.slice(0, Math.max(0, focused.value.length - outcome.retract));
      if (outcome.release) focused.value += outcome.release;
    }
    // The verdict's time is counted from when the scan's last key reached the page.
    if (outcome.scan !== undefined) void onScan(outcome.scan, performance.now());
    else if (wedge.last && e.key === settings.terminator) renderTiming();
    if (wedge.pending) scheduleFlush();
  },
  true,
);

/** Gives held keys to the focused field once a burst has stopped without a terminator. */
let flushTimer: number | undefined;
function scheduleFlush() {
  clearTimeout(flushTimer);
  flushTimer = window.setTimeout(() => {
    const release = wedge.flush(performance.now());
    const focused = document.activeElement;
    if (release && isEditable(focused)) {
      focused.value += release;
      focused.dispatchEvent(new Event("input", { bubbles: true }));
    }
    if (wedge.pending) scheduleFlush();
  }, settings.hiccupMs + 20);
}

$<HTMLFormElement>("manual").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = $<HTMLInputElement>("manual-code");
  const code = input.value.trim();
  input.value = "";
  input.blur();
  if (code) void onScan(code, performance.now());
});

/** A scan goes to the screen in front; screens without scanning look the code up. */
async function onScan(raw: string, since: number) {
  renderTiming();
  if (isEnrollmentToken(raw)) {
    go("device");
    $<HTMLTextAreaElement>("token").value = raw.trim();
    if (!status?.enrolled) await enroll();
    return;
  }
  if (!status?.enrolled) {
    go("device");
    $("enroll-error").textContent = "Enroll this device first: scan the hub's enrollment code.";
    return;
  }
  try {
    switch (screen) {
      case "receive":
        await receiveScan(raw, since);
        break;
      case "ship":
        await shipScan(raw, since);
        break;
      case "sell":
        await sellScan(raw, since);
        break;
      case "inspect":
        await inspectScan(raw, since);
        break;
      case "service":
        await serviceScan(raw, since);
        break;
      default:
        go("lookup");
        await lookupScan(raw, since);
    }
  } catch (e) {
    showError(errorMessage(e));
    measure(since);
  }
}

/** Of those, the part until the ledger's answer arrived (recorded durably), in ms. */
const answered: number[] = [];
(window as unknown as { custodianAnswered: number[] }).custodianAnswered = answered;

async function record(raw: string, step: string, manifest: string | null, since: number): Promise<Verdict> {
  const v = await api.scan(raw, step, manifest, settings.layout);
  answered.push(performance.now() - since);
  if (answered.length > 10000) answered.shift();
  showVerdict(v);
  measure(since);
  // The counts follow the scan at once; the ledger's own count comes with the next tick (a
  // count over a large ledger per scan would compete with the next scan for the CPU).
  if (v.event && status) {
    status = { ...status, events: status.events + 1, waiting: status.waiting + 1 };
    const shown = status;
    afterPaint(() => renderStatus(shown));
  }
  return v;
}

// --- receive ----------------------------------------------------------------------------------

async function receiveScan(raw: string, since: number) {
  const current = manifests.find((m) => m.id === manifestId);
  if (!current || current.status === "closed") {
    // No receipt open: a pallet or case scanned picks the ASN it was shipped under.
    const found = await api.findManifest(raw);
    if (found) {
      manifestId = found;
      await loadManifests();
      say("good", `${found} opened`, "Its pallet was scanned: go on with cases and units.", "opened");
      measure(since);
      return;
    }
  }
  await record(raw, "receiving", manifestId, since);
  afterPaint(() => void loadManifests().catch((e) => showError(errorMessage(e))));
}

async function loadManifests() {
  manifests = await api.manifests();
  renderManifests();
}

function renderManifests() {
  const select = $<HTMLSelectElement>("manifest");
  // Shipments this organisation sent out are picked on the Ship screen, not received here.
  const inbound = manifests.filter((m) => m.source !== status?.org);
  const open = inbound.filter((m) => m.status !== "closed" || m.id === manifestId);
  if (!manifestId && open.length) manifestId = open[0].id;
  select.replaceChildren(
    h("option", { value: "" }, "No ASN: scan a pallet"),
    ...open.map((m) => h("option", { value: m.id, selected: m.id === manifestId }, `${m.id} · from ${m.source ?? "?"} · ${m.status}`)),
  );
  select.value = manifestId ?? "";
  renderReceipt();
}

function renderReceipt() {
  const m = manifests.find((x) => x.id === manifestId);
  const p = m?.progress;
  $("count-scanned").textContent = String(p?.scanned ?? 0);
  $("count-expected").textContent = String(p?.expected ?? 0);
  $("count-missing").textContent = String(p?.missing.length ?? 0);
  $("count-unexpected").textContent = String((p?.unexpected.length ?? 0) + (p?.wrong_product.length ?? 0));
  $("count-duplicates").textContent = String(p?.duplicates.length ?? 0);
  $("counters").dataset.state = m?.status ?? "none";
  // A receipt waiting for review is closed again once its scans have been looked at.
  const review = m ? needsReview(m) : false;
  $<HTMLButtonElement>("close-manifest").disabled = !m || (m.status === "closed" && !review);
  const shown = m ? discrepancies(m.status === "closed" && m.discrepancies && !review ? m.discrepancies : m.progress) : [];
  $("closes").replaceChildren(
    ...(m ? closeLines(m) : []).map((line) => h("p", { class: "hint" }, line)),
    ...(m?.review ?? []).map((r) => h("p", { class: "discrepancy", dataset: { kind: "review" } }, r)),
  );
  $("discrepancies").replaceChildren(
    ...shown.map((d) =>
      h(
        "details",
        { class: "discrepancy", dataset: { kind: d.kind }, open: d.kind !== "missing" || d.units.length <= 6 },
        h("summary", null, `${d.label}: ${d.units.length}`),
        h("ul", null, ...d.units.slice(0, 200).map((u) => h("li", null, u))),
      ),
    ),
  );
}

$<HTMLSelectElement>("manifest").addEventListener("change", (e) => {
  manifestId = (e.target as HTMLSelectElement).value || null;
  (e.target as HTMLSelectElement).blur();
  $("close-confirm").hidden = true;
  renderReceipt();
});

$("close-manifest").addEventListener("click", async (e) => {
  (e.currentTarget as HTMLElement).blur();
  const m = manifests.find((x) => x.id === manifestId);
  if (!m) return;
  const found = discrepancies(m.progress);
  if (found.length === 0) return void closeReceipt();
  $("close-summary").textContent = `${m.id} has discrepancies: ${found.map((d) => `${d.units.length} ${d.label.toLowerCase()}`).join(", ")}. Closing records them on the receipt.`;
  $("close-confirm").hidden = false;
});
$("close-accept").addEventListener("click", () => void closeReceipt());
$("close-cancel").addEventListener("click", () => ($("close-confirm").hidden = true));

async function closeReceipt() {
  if (!manifestId) return;
  $("close-confirm").hidden = true;
  try {
    const m = await api.closeManifest(manifestId);
    say(m.discrepancies && discrepancies(m.discrepancies).length ? "caution" : "good", `${m.id} closed`, m.closing_note ?? "Received as shipped.", "closed");
    await loadManifests();
  } catch (e) {
    showError(errorMessage(e));
  }
}

// --- ship -------------------------------------------------------------------------------------

let orderId: string | null = null;
let orders: Picking[] = [];

async function shipScan(raw: string, since: number) {
  if (!orderId) {
    say("caution", "Pick an order first", "Choose the order you are picking, then scan what goes out.", "no_order");
    measure(since);
    return;
  }
  await record(raw, "shipping", orderId, since);
  afterPaint(() => void loadOrders().catch((e) => showError(errorMessage(e))));
}

async function loadOrders() {
  orders = await api.orders();
  const open = orders.filter((o) => o.status === "open" || o.id === orderId);
  if (!orderId && open.length) orderId = open[0].id;
  const select = $<HTMLSelectElement>("order");
  select.replaceChildren(
    h("option", { value: "" }, open.length ? "Choose an order" : "No orders to pick"),
    ...open.map((o) => h("option", { value: o.id }, `${o.id} · to ${o.to} · ${o.status}`)),
  );
  select.value = orderId ?? "";
  renderOrder();
}

function renderOrder() {
  const o = orders.find((x) => x.id === orderId);
  $("pick-left").textContent = String(o?.left ?? 0);
  $("pick-done").textContent = String(o?.units.length ?? 0);
  $<HTMLButtonElement>("close-order").disabled = !o || o.status !== "open" || o.units.length === 0;
  $("pick-lines").replaceChildren(
    ...(o?.lines ?? []).map((l) =>
      h(
        "li",
        { dataset: { tone: l.picked >= l.quantity ? "good" : "caution" } },
        h("strong", null, `${l.picked} of ${l.quantity} · ${l.product ?? l.gtin}`),
        h("span", null, l.picked >= l.quantity ? "complete" : `${l.quantity - l.picked} still to pick`),
      ),
    ),
  );
}

$<HTMLSelectElement>("order").addEventListener("change", (e) => {
  orderId = (e.target as HTMLSelectElement).value || null;
  (e.target as HTMLSelectElement).blur();
  $("ship-confirm").hidden = true;
  renderOrder();
});

$("close-order").addEventListener("click", (e) => {
  (e.currentTarget as HTMLElement).blur();
  const o = orders.find((x) => x.id === orderId);
  if (!o) return;
  if (o.left === 0) return void shipOrder();
  $("ship-summary").textContent = `${o.id} is ${o.left} unit(s) short. Ship what is picked?`;
  $("ship-confirm").hidden = false;
});
$("ship-accept").addEventListener("click", () => void shipOrder());
$("ship-cancel").addEventListener("click", () => ($("ship-confirm").hidden = true));

async function shipOrder() {
  if (!orderId) return;
  $("ship-confirm").hidden = true;
  try {
    const r = await api.closeOrder(orderId);
    say(r.order.left ? "caution" : "good", `${r.order.id} shipped`, `${r.order.units.length} unit(s) to ${r.order.to}. Outbound manifest: ${r.manifest_file}`, "shipped");
    orderId = null;
    await loadOrders();
    void refreshStatus();
  } catch (e) {
    showError(errorMessage(e));
  }
}

// --- sell -------------------------------------------------------------------------------------

async function sellScan(raw: string, since: number) {
  const v = await record(raw, "retail_selling", null, since);
  const card = $("sale");
  if (v.verdict !== "ok" && v.verdict !== "provisional") {
    card.hidden = false;
    card.dataset.tone = VERDICTS[v.verdict].tone;
    card.replaceChildren(h("h2", null, `Do not sell: ${VERDICTS[v.verdict].word}`), h("p", null, v.reason));
    return;
  }
  const life = await api.history(raw);
  const w = warrantyLine(life.warranty);
  card.hidden = false;
  card.dataset.tone = "good";
  card.replaceChildren(
    h("h2", null, `Sold: ${life.product ?? life.label}`),
    h("p", { class: "unit" }, life.label),
    h("p", { id: "sale-warranty", class: w.covered ? "covered" : "" }, w.text),
  );
}

// --- inspect ----------------------------------------------------------------------------------

let suspect: string | null = null;

async function inspectScan(raw: string, since: number) {
  const v = await record(raw, "inspecting", null, since);
  const look = VERDICTS[v.verdict];
  const item = h(
    "li",
    { dataset: { tone: look.tone, verdict: v.verdict } },
    h("strong", null, look.word),
    h("span", null, v.label ?? printable(raw)),
    h("small", null, v.reason),
  );
  if (v.epc) {
    const report = h("button", { type: "button", class: "ghost small" }, "Report counterfeit");
    report.addEventListener("click", () => openReport(raw, v.label ?? raw));
    item.append(report);
    const action: HoldAction = v.verdict === "quarantined" ? "release" : "quarantine";
    item.append(holdButton(action, () => openHold($("inspected"), raw, v.label ?? raw, action)));
  }
  afterPaint(() => {
    $("inspected").prepend(item);
    while ($("inspected").children.length > 50) $("inspected").lastElementChild?.remove();
  });
}

function openReport(code: string, label: string) {
  suspect = code;
  $("report-unit").textContent = label;
  $("report").hidden = false;
  $("report-photo-row").hidden = !cameraOn;
  $<HTMLTextAreaElement>("report-note").focus();
}

$<HTMLFormElement>("report").addEventListener("submit", async (e) => {
  e.preventDefault();
  const note = $<HTMLTextAreaElement>("report-note").value.trim();
  if (!suspect) return;
  if (!note) return showError("Say what looks wrong: the report needs a note.");
  try {
    const photo = cameraOn && $<HTMLInputElement>("report-photo").checked;
    await api.reportCounterfeit(suspect, note, photo);
    say("bad", "Counterfeit reported", `${$("report-unit").textContent}: the hub hears of it at the next sync.`, "reported");
    $<HTMLTextAreaElement>("report-note").value = "";
    $("report").hidden = true;
    (document.activeElement as HTMLElement | null)?.blur();
    void refreshStatus();
  } catch (err) {
    showError(errorMessage(err));
  }
});
$("report-cancel").addEventListener("click", () => ($("report").hidden = true));

/** Opens the quarantine / release form above `list` (Inspect) or below the biography (Look up). */
function openHold(where: HTMLElement, code: string, label: string, action: HoldAction) {
  const form = holdForm(code, label, action, (outcome) => {
    if ("error" in outcome) return showError(outcome.error);
    const life = outcome.recorded.history;
    const q = life.custody.quarantine;
    if (action === "quarantine") say("bad", "Quarantined", q ? `${life.label}: in quarantine since ${day(q.since)} — ${q.reason}` : life.label, "quarantine-recorded");
    else say("good", "Released", `${life.label}: released from quarantine; it may be sold and shipped again.`, "release-recorded");
    if (screen === "lookup") showBiography(life);
    void refreshStatus();
  });
  if (where.id === "inspected") where.before(form);
  else where.after(form);
}

// --- service ----------------------------------------------------------------------------------

let benchUnit: string | null = null;
let partsMode: "in" | "out" | null = null;
const parts: { code: string; dir: "in" | "out" }[] = [];

async function serviceScan(raw: string, since: number) {
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
    void refreshStatus();
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

// --- look up ----------------------------------------------------------------------------------

async function lookupScan(raw: string, since: number) {
  const life = await api.history(raw);
  lookedUp = raw;
  showBiography(life);
  const flagged = life.flags.some((f) => f.status !== "closed") || life.counterfeit_reports.length > 0 || life.custody.quarantine !== null;
  say(flagged ? "bad" : "good", life.label, `${words(life.custody.state)}${life.custody.custodian ? ` · ${life.custody.custodian}` : ""}`, "lookup");
  measure(since);
}

/** The code last looked up, which the biography's quarantine or release acts on. */
let lookedUp: string | null = null;

function showBiography(life: History) {
  const bio = biography(life);
  if (lookedUp && life.custody.state !== "destroyed") {
    const code = lookedUp;
    const action: HoldAction = life.custody.quarantine ? "release" : "quarantine";
    bio.append(h("div", { class: "buttons" }, holdButton(action, () => openHold($("biography"), code, life.label, action))));
  }
  $("biography").replaceChildren(bio);
}

// --- flags ------------------------------------------------------------------------------------

/** A flag's listed units, fetched when someone opens the list. */
function unitList(f: Flag): HTMLElement {
  const list = h("ol", { class: "flag-units" });
  const box = h("details", { class: "flag-units" }, h("summary", null, `Units (${f.units})`), list);
  box.addEventListener("toggle", () => {
    if (!(box as HTMLDetailsElement).open || list.childElementCount) return;
    api
      .flagUnits(f.id)
      .then((units) => list.replaceChildren(...units.map((u) => h("li", null, listedUnitLine(u)))))
      .catch((e) => showError(errorMessage(e)));
  });
  return box;
}

/** The flags as last drawn: the 5-second refresh redraws only when they changed. */
let drawnFlags = "";

/** The flag lifecycle as the ledger enforces it, asked for once. */
let lifecycle: LifecycleStep[] | null = null;

async function renderFlags() {
  lifecycle ??= await api.flagLifecycle();
  const life = lifecycle;
  const flags = sortFlags(life, await api.flags());
  const open = flags.filter((f) => f.status !== "closed").length;
  const tab = document.querySelector<HTMLElement>('#nav [data-screen="flags"]');
  if (tab) tab.dataset.count = open ? String(open) : "";
  const drawn = JSON.stringify(flags);
  if (drawn === drawnFlags) return;
  drawnFlags = drawn;
  // A redraw keeps what someone is typing into a flag's note, and where.
  const typed = new Map<string, string>();
  let focused: string | null = null;
  for (const input of $("flags").querySelectorAll<HTMLInputElement>("input.flag-note")) {
    const id = input.closest("li")?.id;
    if (!id) continue;
    if (input.value) typed.set(id, input.value);
    if (document.activeElement === input) focused = id;
  }
  $("flags").replaceChildren(
    ...(flags.length
      ? flags.map((f) => {
          const note = h("input", { class: "flag-note", placeholder: "Why (needed to escalate or close)", "aria-label": "Note" });
          note.value = typed.get(`flag-${f.id}`) ?? "";
          const problem = h("p", { class: "error", role: "alert" });
          const moves = flagMoves(life, f.status).map((to) => {
            const b = h("button", { type: "button", class: to === "closed" ? "primary small" : "ghost small", dataset: { to } }, words(to));
            b.addEventListener("click", async () => {
              const why = note.value.trim();
              if (needsNote(life, to) && !why) {
                problem.textContent = `Say why: ${words(to).toLowerCase()} needs a note (what was found, or who takes it over).`;
                note.focus();
                return;
              }
              try {
                await api.moveFlag(f.id, to, why || null);
                note.value = "";
                await renderFlags();
              } catch (err) {
                problem.textContent = errorMessage(err);
              }
            });
            return b;
          });
          const steps = (f.history ?? []).map((s) => h("li", null, `${words(s.status)} · ${day(s.at)}${s.by ? ` · ${s.by}` : ""}${s.note ? ` — ${s.note}` : ""}`));
          return h(
            "li",
            { dataset: { kind: f.kind, status: f.status }, id: `flag-${f.id}` },
            h("strong", null, `${words(f.kind)} · ${words(f.status)}`),
            h("span", null, f.reason),
            h("small", null, `${unitsLine(f)} · raised ${day(f.raised_at)}`),
            (f.units ?? 1) > 1 ? unitList(f) : null,
            steps.length ? h("ol", { class: "steps-done" }, ...steps) : null,
            moves.length ? note : null,
            problem,
            moves.length ? h("div", { class: "buttons" }, ...moves) : null,
          );
        })
      : [h("li", { class: "empty" }, "No flags: the hub has raised nothing for your organisation.")]),
  );
  if (focused) document.getElementById(focused)?.querySelector<HTMLInputElement>("input.flag-note")?.focus();
}

// --- device -----------------------------------------------------------------------------------

async function enroll() {
  $("enroll-error").textContent = "";
  try {
    await api.enroll($<HTMLTextAreaElement>("token").value.trim());
    await refreshStatus();
    go("receive");
    await loadManifests();
  } catch (e) {
    $("enroll-error").textContent = errorMessage(e);
  }
}
$("enroll").addEventListener("click", () => void enroll());

function renderDevice(s: Status) {
  $("enroll-view").hidden = s.enrolled;
  const rows: [string, string][] = s.enrolled
    ? [
        ["Organisation", `${s.org} · ${s.site}`],
        ["Device", s.device ?? "—"],
        ["Hub", s.hub ?? "—"],
        ["Link", linkLine(s.link, s.waiting)],
        ["Last sync", s.last_sync ?? "never"],
        ["Waiting to sync", `${s.waiting} event(s)`],
        ["Events held", String(s.events)],
      ]
    : [["Enrollment", "not enrolled"]];
  $("device-status").replaceChildren(
    h("h2", null, "This device"),
    h("dl", null, ...rows.flatMap(([k, v]) => [h("dt", null, k), h("dd", null, v)])),
  );
}

function renderTiming() {
  const t = wedge.last;
  const last = latencies.at(-1);
  const lines: string[] = [];
  if (t) {
    lines.push(
      `${t.scan ? "Scan" : "Typing, not a scan"}: ${t.chars} characters, key gaps ${t.meanGapMs.toFixed(1)} ms on average, longest ${t.maxGapMs.toFixed(0)} ms` +
        (t.slowGaps ? `, ${t.slowGaps} pause(s) over ${settings.maxGapMs} ms` : ""),
    );
  }
  if (last !== undefined) lines.push(`Last verdict on screen ${last.toFixed(0)} ms after the last key.`);
  if (lines.length) $("timing").textContent = lines.join(". ");
}

function renderSettings() {
  $<HTMLSelectElement>("set-terminator").value = settings.terminator;
  $<HTMLInputElement>("set-prefix").value = settings.prefix;
  $<HTMLSelectElement>("set-layout").value = settings.layout;
  $<HTMLInputElement>("set-gap").value = String(settings.maxGapMs);
  $<HTMLInputElement>("set-hiccup").value = String(settings.hiccupMs);
  $<HTMLInputElement>("set-sound").checked = settings.sound;
  $<HTMLInputElement>("set-vibration").checked = settings.vibration;
}

$("settings").addEventListener("change", () => {
  const num = (id: string, d: number) => {
    const n = Number($<HTMLInputElement>(id).value);
    return Number.isFinite(n) && n > 0 ? n : d;
  };
  settings = {
    terminator: $<HTMLSelectElement>("set-terminator").value === "Tab" ? "Tab" : "Enter",
    prefix: $<HTMLInputElement>("set-prefix").value,
    layout: $<HTMLSelectElement>("set-layout").value as Settings["layout"],
    maxGapMs: num("set-gap", settings.maxGapMs),
    hiccupMs: num("set-hiccup", settings.hiccupMs),
    sound: $<HTMLInputElement>("set-sound").checked,
    vibration: $<HTMLInputElement>("set-vibration").checked,
    camera: $<HTMLSelectElement>("set-camera").value,
  };
  saveSettings(settings);
  wedge = new WedgeAssembler(wedgeConfig(settings));
});
$("settings").addEventListener("submit", (e) => e.preventDefault());

// --- camera -----------------------------------------------------------------------------------

let cameraOn = false;

async function startCamera() {
  const status = $("viewfinder-status");
  $("viewfinder").hidden = false;
  $("camera-toggle").setAttribute("aria-pressed", "true");
  status.textContent = "Starting the camera…";
  try {
    const found = await api.cameras();
    const choice = found.find((c) => c.id === settings.camera) ?? found[0];
    if (!choice) throw new Error("No camera is connected: scan with a handheld scanner.");
    await api.cameraStart(choice.id);
    cameraOn = true;
    status.textContent = `${choice.name}: hold the code inside the frame. Several codes at once are fine.`;
  } catch (e) {
    stopCamera();
    $("viewfinder").hidden = false;
    status.textContent = errorMessage(e);
    status.classList.add("error");
  }
}

function stopCamera() {
  if (cameraOn) void api.cameraStop();
  cameraOn = false;
  $("viewfinder").hidden = true;
  $("viewfinder-status").classList.remove("error");
  $("camera-toggle").setAttribute("aria-pressed", "false");
}

$("camera-toggle").addEventListener("click", (e) => {
  (e.currentTarget as HTMLElement).blur();
  if (cameraOn || !$("viewfinder").hidden) stopCamera();
  else void startCamera();
});

void listen<string>("camera-frame", (e) => {
  if (cameraOn) $<HTMLImageElement>("viewfinder-img").src = e.payload;
});
void listen<{ text: string }>("camera-scan", (e) => {
  if (cameraOn) void onScan(e.payload.text, performance.now());
});
void listen<string>("camera-error", (e) => {
  stopCamera();
  $("viewfinder").hidden = false;
  $("viewfinder-status").textContent = `The camera stopped: ${e.payload}. A handheld scanner still works.`;
  $("viewfinder-status").classList.add("error");
});

async function renderCameras() {
  const select = $<HTMLSelectElement>("set-camera");
  try {
    const found = await api.cameras();
    select.replaceChildren(...found.map((c) => h("option", { value: c.id }, c.name)));
    select.value = found.some((c) => c.id === settings.camera) ? settings.camera : (found[0]?.id ?? "");
    $("camera-note").textContent = found.length ? "" : "No camera is connected. Handheld scanners work on every screen.";
  } catch (e) {
    $("camera-note").textContent = errorMessage(e);
  }
}

// --- shell ------------------------------------------------------------------------------------

function go(id: ScreenId) {
  screen = id;
  for (const s of document.querySelectorAll<HTMLElement>(".screen")) s.hidden = s.dataset.screen !== id;
  for (const b of document.querySelectorAll<HTMLElement>("#nav button")) b.setAttribute("aria-current", String(b.dataset.screen === id));
  const spec = SCREENS.find((s) => s.id === id)!;
  $("scan-panel").hidden = !spec.scans || !status?.enrolled;
  document.body.dataset.screen = id;
  if (id === "flags") void renderFlags().catch((e) => showError(errorMessage(e)));
  if (id === "device" && status) renderDevice(status);
  if (id === "device") void renderCameras();
  if (!spec.scans) stopCamera();
  if (id === "receive" && status?.enrolled) void loadManifests().catch((e) => showError(errorMessage(e)));
  if (id === "ship" && status?.enrolled) void loadOrders().catch((e) => showError(errorMessage(e)));
}

$("nav").replaceChildren(
  ...SCREENS.map((s) => {
    const b = h("button", { type: "button", dataset: { screen: s.id } }, s.label);
    b.addEventListener("click", () => {
      go(s.id);
      b.blur();
    });
    return b;
  }),
);

$("sync").addEventListener("click", async (e) => {
  (e.currentTarget as HTMLElement).blur();
  $("sync").textContent = "Syncing…";
  try {
    await api.sync();
  } catch {
    // Offline is normal; the status line says so.
  }
  $("sync").textContent = "Sync";
  await refreshStatus();
  if (screen === "flags") await renderFlags();
  if (screen === "receive") await loadManifests();
});

function renderStatus(s: Status) {
  $("where").textContent = s.enrolled ? `${s.org} · ${s.site}` : "not enrolled";
  const link = $("link");
  link.dataset.state = s.link.state;
  link.textContent = linkLine(s.link, s.waiting);
  link.title = s.link.detail ?? (s.last_sync ? `last sync ${s.last_sync}` : "");
  $("sync").hidden = !s.enrolled;
  $("nav").hidden = !s.enrolled;
  if (screen === "device") renderDevice(s);
}

async function refreshStatus() {
  try {
    const was = status?.enrolled;
    status = await api.status();
    renderStatus(status);
    if (was !== status.enrolled) go(status.enrolled ? screen : "device");
  } catch (e) {
    showError(errorMessage(e));
  }
}

async function tick() {
  await refreshStatus();
  if (!status?.enrolled) return;
  if (screen === "receive") await loadManifests();
  if (screen === "ship") await loadOrders();
  await renderFlags();
}

renderSettings();
go("receive");
void tick();
setInterval(() => void tick().catch(() => undefined), 5000);
