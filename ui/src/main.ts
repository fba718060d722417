// The handheld screen: scan against a manifest, see the verdict at once, keep an eye on sync
// and flags. Keyboard-wedge scans are taken on every screen without tapping a field.
import { api, errorMessage, type Manifest, type Status, type Verdict } from "./api";
import { VERDICTS, printable } from "./verdicts";
import { WedgeAssembler, defaultConfig } from "./wedge";

const STEPS: [string, string][] = [
  ["receiving", "Receive"],
  ["shipping", "Ship"],
  ["retail_selling", "Sell"],
  ["inspecting", "Inspect"],
  ["repairing", "Service"],
  ["returning", "Return"],
];

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

let step = "receiving";
let manifestId: string | null = null;
let manifests: Manifest[] = [];
let status: Status | null = null;

function isEditable(el: Element | null): el is HTMLInputElement | HTMLTextAreaElement {
  return el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement;
}

// --- scanning -------------------------------------------------------------------------------

const wedge = new WedgeAssembler(defaultConfig);

document.addEventListener(
  "keydown",
  (e) => {
    const focused = document.activeElement;
    const outcome = wedge.push({
      key: e.key,
      ctrl: e.ctrlKey,
      alt: e.altKey,
      at: performance.now(),
      editable: isEditable(focused),
    });
    if (outcome.action === "swallow") {
      e.preventDefault();
      e.stopPropagation();
    }
    if (isEditable(focused)) {
      if (outcome.retract) focused.value = focused.value.slice(0, Math.max(0, focused.value.length - outcome.retract));
      if (outcome.release) focused.value += outcome.release;
    }
    if (outcome.scan !== undefined) void submitScan(outcome.scan);
  },
  true,
);

async function submitScan(raw: string) {
  if (!status?.enrolled) return;
  try {
    const v = await api.scan(raw, step, step === "receiving" || step === "shipping" ? manifestId : null);
    showVerdict(v);
    void refresh();
  } catch (e) {
    showError(errorMessage(e));
  }
}

function showVerdict(v: Verdict) {
  const look = VERDICTS[v.verdict];
  const panel = $("verdict");
  panel.dataset.verdict = v.verdict;
  panel.dataset.tone = look.tone;
  $("verdict-word").textContent = look.word;
  $("verdict-reason").textContent = v.reason;
  panel.classList.remove("flash");
  void panel.offsetWidth; // restart the flash animation
  panel.classList.add("flash");
  beep(look.tone);
  if ("vibrate" in navigator) navigator.vibrate(look.tone === "good" ? 40 : [80, 60, 80]);
}

function showError(message: string) {
  const panel = $("verdict");
  panel.dataset.verdict = "error";
  panel.dataset.tone = "bad";
  $("verdict-word").textContent = "Not recorded";
  $("verdict-reason").textContent = message;
}

let audio: AudioContext | null = null;
function beep(tone: "good" | "caution" | "bad") {
  try {
    audio ??= new AudioContext();
    const pattern = tone === "good" ? [880] : tone === "caution" ? [660, 660] : [220, 180, 220];
    pattern.forEach((hz, i) => {
      const osc = audio!.createOscillator();
      const gain = audio!.createGain();
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

$<HTMLFormElement>("manual").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = $<HTMLInputElement>("manual-code");
  const code = input.value.trim();
  input.value = "";
  if (code) void submitScan(code);
});

// --- controls ---------------------------------------------------------------------------------

function renderSteps() {
  const box = $("steps");
  box.replaceChildren(
    ...STEPS.map(([id, label]) => {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = label;
      b.dataset.step = id;
      b.setAttribute("role", "radio");
      b.setAttribute("aria-checked", String(id === step));
      b.addEventListener("click", () => {
        step = id;
        renderSteps();
        b.blur();
      });
      return b;
    }),
  );
}

$<HTMLSelectElement>("manifest").addEventListener("change", (e) => {
  manifestId = (e.target as HTMLSelectElement).value || null;
  (e.target as HTMLSelectElement).blur();
  renderCounters();
});

$("close-manifest").addEventListener("click", async () => {
  if (!manifestId) return;
  try {
    const m = await api.closeManifest(manifestId);
    $("verdict-word").textContent = `${m.id} closed`;
    $("verdict-reason").textContent = m.closing_note ?? "";
    $("verdict").dataset.tone = m.progress.missing.length ? "caution" : "good";
    await refresh();
  } catch (e) {
    showError(errorMessage(e));
  }
});

$("sync").addEventListener("click", async () => {
  $("sync").textContent = "Syncing…";
  try {
    await api.sync();
  } catch {
    // Offline is normal; the status line says so.
  }
  $("sync").textContent = "Sync";
  await refresh();
});

$("enroll").addEventListener("click", async () => {
  $("enroll-error").textContent = "";
  try {
    await api.enroll($<HTMLTextAreaElement>("token").value.trim());
    await refresh();
  } catch (e) {
    $("enroll-error").textContent = errorMessage(e);
  }
});

// --- rendering --------------------------------------------------------------------------------

function renderCounters() {
  const m = manifests.find((x) => x.id === manifestId);
  const p = m?.progress;
  $("count-scanned").textContent = String(p?.scanned ?? 0);
  $("count-expected").textContent = String(p?.expected ?? 0);
  $("count-missing").textContent = String(p?.missing.length ?? 0);
  $("count-unexpected").textContent = String((p?.unexpected.length ?? 0) + (p?.wrong_product.length ?? 0));
  $("count-duplicates").textContent = String(p?.duplicates.length ?? 0);
  $("counters").dataset.state = m?.status ?? "none";
}

function renderManifests() {
  const select = $<HTMLSelectElement>("manifest");
  const open = manifests.filter((m) => m.status !== "closed" || m.id === manifestId);
  if (!manifestId && open.length) manifestId = open[0].id;
  select.replaceChildren(
    ...[{ id: "", label: "No manifest" }, ...open.map((m) => ({ id: m.id, label: `${m.id} · from ${m.source ?? "?"} · ${m.status}` }))].map(
      ({ id, label }) => {
        const o = document.createElement("option");
        o.value = id;
        o.textContent = label;
        o.selected = id === (manifestId ?? "");
        return o;
      },
    ),
  );
  renderCounters();
}

function renderStatus(s: Status) {
  $("where").textContent = s.enrolled ? `${s.org} · ${s.site}` : "not enrolled";
  const link = $("link");
  link.dataset.state = s.link.state;
  const waiting = s.waiting ? ` · ${s.waiting} waiting to sync` : "";
  link.textContent =
    s.link.state === "online" ? `Online${waiting}` : s.link.state === "offline" ? `Offline — verdicts are provisional${waiting}` : `Connecting…${waiting}`;
  link.title = s.link.detail ?? (s.last_sync ? `last sync ${s.last_sync}` : "");
}

async function renderLists() {
  const [recent, flags] = await Promise.all([api.recentScans(12), api.flags()]);
  $("recent").replaceChildren(
    ...recent.map((r) => {
      const li = document.createElement("li");
      li.dataset.tone = VERDICTS[r.verdict.verdict].tone;
      const word = document.createElement("strong");
      word.textContent = VERDICTS[r.verdict.verdict].word;
      const what = document.createElement("span");
      what.textContent = r.verdict.label ?? printable(r.raw);
      li.append(word, what);
      return li;
    }),
  );
  $("flags").replaceChildren(
    ...(flags.length
      ? flags.map((f) => {
          const li = document.createElement("li");
          li.dataset.kind = f.kind;
          const kind = document.createElement("strong");
          kind.textContent = `${f.kind.replace(/_/g, " ")} · ${f.status}`;
          const reason = document.createElement("span");
          reason.textContent = f.reason;
          li.append(kind, reason);
          return li;
        })
      : [Object.assign(document.createElement("li"), { className: "empty", textContent: "No flags" })]),
  );
}

async function refresh() {
  try {
    status = await api.status();
  } catch (e) {
    showError(errorMessage(e));
    return;
  }
  renderStatus(status);
  $("enroll-view").hidden = status.enrolled;
  $("work-view").hidden = !status.enrolled;
  $("sync").hidden = !status.enrolled;
  if (!status.enrolled) return;
  manifests = await api.manifests();
  renderManifests();
  await renderLists();
}

renderSteps();
void refresh();
setInterval(() => void refresh(), 5000);
