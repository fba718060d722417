// The camera as a scanner: the viewfinder, and each code it reads going down the same path as
// a wedge scan.
import { listen } from "@tauri-apps/api/event";
import { api, errorMessage } from "./api";
import { $, h } from "./dom";
import { shell, state } from "./state";

let on = false;

/** Whether the camera is running (a counterfeit report may then keep its frame). */
export function cameraOn(): boolean {
  return on;
}

async function startCamera() {
  const status = $("viewfinder-status");
  $("viewfinder").hidden = false;
  $("camera-toggle").setAttribute("aria-pressed", "true");
  status.textContent = "Starting the camera…";
  try {
    const found = await api.cameras();
    const choice = found.find((c) => c.id === state.settings.camera) ?? found[0];
    if (!choice) throw new Error("No camera is connected: scan with a handheld scanner.");
    await api.cameraStart(choice.id);
    on = true;
    status.textContent = `${choice.name}: hold the code inside the frame. Several codes at once are fine.`;
  } catch (e) {
    stopCamera();
    $("viewfinder").hidden = false;
    status.textContent = errorMessage(e);
    status.classList.add("error");
  }
}

export function stopCamera() {
  if (on) void api.cameraStop();
  on = false;
  $("viewfinder").hidden = true;
  $("viewfinder-status").classList.remove("error");
  $("camera-toggle").setAttribute("aria-pressed", "false");
}

$("camera-toggle").addEventListener("click", (e) => {
  (e.currentTarget as HTMLElement).blur();
  if (on || !$("viewfinder").hidden) stopCamera();
  else void startCamera();
});

void listen<string>("camera-frame", (e) => {
  if (on) $<HTMLImageElement>("viewfinder-img").src = e.payload;
});
void listen<{ text: string }>("camera-scan", (e) => {
  if (on) void shell.scan(e.payload.text, performance.now());
});
void listen<string>("camera-error", (e) => {
  stopCamera();
  $("viewfinder").hidden = false;
  $("viewfinder-status").textContent = `The camera stopped: ${e.payload}. A handheld scanner still works.`;
  $("viewfinder-status").classList.add("error");
});

export async function renderCameras() {
  const select = $<HTMLSelectElement>("set-camera");
  try {
    const found = await api.cameras();
    select.replaceChildren(...found.map((c) => h("option", { value: c.id }, c.name)));
    select.value = found.some((c) => c.id === state.settings.camera) ? state.settings.camera : (found[0]?.id ?? "");
    $("camera-note").textContent = found.length ? "" : "No camera is connected. Handheld scanners work on every screen.";
  } catch (e) {
    $("camera-note").textContent = errorMessage(e);
  }
}
