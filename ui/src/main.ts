// The handheld app's shell: the screens (one module each, in screens/), the navigation, the
// status line and the periodic refresh.
import { api, errorMessage, type Status } from "./api";
import { renderCameras, stopCamera } from "./camera";
import { $, h } from "./dom";
import { showError } from "./feedback";
import { linkLine } from "./format";
import { onScan } from "./scanning";
import { renderDevice, renderSettings } from "./screens/device";
import { renderFlags } from "./screens/flags";
import { loadManifests } from "./screens/receive";
import { loadOrders } from "./screens/ship";
import { SCREENS, shell, state, type ScreenId } from "./state";

function go(id: ScreenId) {
  state.screen = id;
  for (const s of document.querySelectorAll<HTMLElement>(".screen")) s.hidden = s.dataset.screen !== id;
  for (const b of document.querySelectorAll<HTMLElement>("#nav button")) b.setAttribute("aria-current", String(b.dataset.screen === id));
  const spec = SCREENS.find((s) => s.id === id)!;
  $("scan-panel").hidden = !spec.scans || !state.status?.enrolled;
  document.body.dataset.screen = id;
  if (id === "flags") void renderFlags().catch((e) => showError(errorMessage(e)));
  if (id === "device" && state.status) renderDevice(state.status);
  if (id === "device") void renderCameras();
  if (!spec.scans) stopCamera();
  if (id === "receive" && state.status?.enrolled) void loadManifests().catch((e) => showError(errorMessage(e)));
  if (id === "ship" && state.status?.enrolled) void loadOrders().catch((e) => showError(errorMessage(e)));
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
  if (state.screen === "flags") await renderFlags();
  if (state.screen === "receive") await loadManifests();
});

function renderStatus(s: Status) {
  $("where").textContent = s.enrolled ? `${s.org} · ${s.site}` : "not enrolled";
  const link = $("link");
  link.dataset.state = s.link.state;
  link.textContent = linkLine(s.link, s.waiting);
  link.title = s.link.detail ?? (s.last_sync ? `last sync ${s.last_sync}` : "");
  $("sync").hidden = !s.enrolled;
  $("nav").hidden = !s.enrolled;
  if (state.screen === "device") renderDevice(s);
}

async function refreshStatus() {
  try {
    const was = state.status?.enrolled;
    const status = await api.status();
    state.status = status;
    renderStatus(status);
    if (was !== status.enrolled) go(status.enrolled ? state.screen : "device");
  } catch (e) {
    showError(errorMessage(e));
  }
}

async function tick() {
  await refreshStatus();
  if (!state.status?.enrolled) return;
  if (state.screen === "receive") await loadManifests();
  if (state.screen === "ship") await loadOrders();
  await renderFlags();
}

shell.go = go;
shell.refreshStatus = refreshStatus;
shell.renderStatus = renderStatus;
shell.scan = onScan;

renderSettings();
go("receive");
void tick();
setInterval(() => void tick().catch(() => undefined), 5000);
