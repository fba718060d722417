// Inspect: one verdict per unit on the shelf, a counterfeit report with a note (and the
// camera's frame as its photo), and quarantine or release.
import { api, errorMessage } from "../api";
import { cameraOn } from "../camera";
import { $, h } from "../dom";
import { afterPaint, record, say, showError } from "../feedback";
import { holdButton, type HoldAction } from "../hold";
import { printable, VERDICTS } from "../verdicts";
import { shell } from "../state";
import { openHold } from "./lookup";

let suspect: string | null = null;

export async function inspectScan(raw: string, since: number) {
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
  $("report-photo-row").hidden = !cameraOn();
  $<HTMLTextAreaElement>("report-note").focus();
}

$<HTMLFormElement>("report").addEventListener("submit", async (e) => {
  e.preventDefault();
  const note = $<HTMLTextAreaElement>("report-note").value.trim();
  if (!suspect) return;
  if (!note) return showError("Say what looks wrong: the report needs a note.");
  try {
    const photo = cameraOn() && $<HTMLInputElement>("report-photo").checked;
    await api.reportCounterfeit(suspect, note, photo);
    say("bad", "Counterfeit reported", `${$("report-unit").textContent}: the hub hears of it at the next sync.`, "reported");
    $<HTMLTextAreaElement>("report-note").value = "";
    $("report").hidden = true;
    (document.activeElement as HTMLElement | null)?.blur();
    void shell.refreshStatus();
  } catch (err) {
    showError(errorMessage(err));
  }
});
$("report-cancel").addEventListener("click", () => ($("report").hidden = true));
