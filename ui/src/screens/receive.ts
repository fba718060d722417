// Receive: pick an ASN (or scan a pallet's SSCC to open the one it was shipped under), scan
// what arrived against it, and close it, recording its discrepancies.
import { api, errorMessage, type Manifest } from "../api";
import { closeLines, needsReview } from "../closes";
import { $, h } from "../dom";
import { afterPaint, measure, record, say, showError } from "../feedback";
import { discrepancies } from "../format";
import { state } from "../state";

let manifestId: string | null = null;
let manifests: Manifest[] = [];

export async function receiveScan(raw: string, since: number) {
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

export async function loadManifests() {
  manifests = await api.manifests();
  renderManifests();
}

function renderManifests() {
  const select = $<HTMLSelectElement>("manifest");
  // Shipments this organisation sent out are picked on the Ship screen, not received here.
  const inbound = manifests.filter((m) => m.source !== state.status?.org);
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
