// Device: enrollment, the device's status, and the scanner settings.
import { api, errorMessage, type Status } from "../api";
import { $, h } from "../dom";
import { linkLine } from "../format";
import { saveSettings, wedgeConfig, type Settings } from "../settings";
import { shell, state } from "../state";
import { WedgeAssembler } from "../wedge";
import { loadManifests } from "./receive";

export async function enroll() {
  $("enroll-error").textContent = "";
  try {
    await api.enroll($<HTMLTextAreaElement>("token").value.trim());
    await shell.refreshStatus();
    shell.go("receive");
    await loadManifests();
  } catch (e) {
    $("enroll-error").textContent = errorMessage(e);
  }
}
$("enroll").addEventListener("click", () => void enroll());

export function renderDevice(s: Status) {
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

export function renderSettings() {
  $<HTMLSelectElement>("set-terminator").value = state.settings.terminator;
  $<HTMLInputElement>("set-prefix").value = state.settings.prefix;
  $<HTMLSelectElement>("set-layout").value = state.settings.layout;
  $<HTMLInputElement>("set-gap").value = String(state.settings.maxGapMs);
  $<HTMLInputElement>("set-hiccup").value = String(state.settings.hiccupMs);
  $<HTMLInputElement>("set-sound").checked = state.settings.sound;
  $<HTMLInputElement>("set-vibration").checked = state.settings.vibration;
}

$("settings").addEventListener("change", () => {
  const num = (id: string, d: number) => {
    const n = Number($<HTMLInputElement>(id).value);
    return Number.isFinite(n) && n > 0 ? n : d;
  };
  state.settings = {
    terminator: $<HTMLSelectElement>("set-terminator").value === "Tab" ? "Tab" : "Enter",
    prefix: $<HTMLInputElement>("set-prefix").value,
    layout: $<HTMLSelectElement>("set-layout").value as Settings["layout"],
    maxGapMs: num("set-gap", state.settings.maxGapMs),
    hiccupMs: num("set-hiccup", state.settings.hiccupMs),
    sound: $<HTMLInputElement>("set-sound").checked,
    vibration: $<HTMLInputElement>("set-vibration").checked,
    camera: $<HTMLSelectElement>("set-camera").value,
  };
  saveSettings(state.settings);
  state.wedge = new WedgeAssembler(wedgeConfig(state.settings));
});
$("settings").addEventListener("submit", (e) => e.preventDefault());
