// The scan path: a keyboard-wedge scan is taken on every screen without tapping a field (the
// assembler, `wedge.ts`, decides inside each keydown whether a key reaches a focused field),
// typed codes come from the manual field, and each scan goes to the screen in front.
import { errorMessage } from "./api";
import { $ } from "./dom";
import { measure, renderTiming, showError } from "./feedback";
import { isEnrollmentToken } from "./format";
import { shell, state } from "./state";
import { enroll } from "./screens/device";
import { inspectScan } from "./screens/inspect";
import { lookupScan } from "./screens/lookup";
import { receiveScan } from "./screens/receive";
import { sellScan } from "./screens/sell";
import { serviceScan } from "./screens/service";
import { shipScan } from "./screens/ship";

/** What the wedge made of the last burst it ended (the window's tests read it). */
(window as unknown as { custodianWedge: () => { ended: number; last: unknown } }).custodianWedge = () => ({
  ended: state.wedge.ended,
  last: state.wedge.last,
});

function isEditable(el: Element | null): el is HTMLInputElement | HTMLTextAreaElement {
  return (el instanceof HTMLInputElement && !["checkbox", "radio", "button", "submit"].includes(el.type)) || el instanceof HTMLTextAreaElement;
}

document.addEventListener(
  "keydown",
  (e) => {
    const focused = document.activeElement;
    const outcome = state.wedge.push({ key: e.key, ctrl: e.ctrlKey, alt: e.altKey, at: e.timeStamp, editable: isEditable(focused) });
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
    else if (state.wedge.last && e.key === state.settings.terminator) renderTiming();
    if (state.wedge.pending) scheduleFlush();
  },
  true,
);

/** Gives held keys to the focused field once a burst has stopped without a terminator. */
let flushTimer: number | undefined;
function scheduleFlush() {
  clearTimeout(flushTimer);
  flushTimer = window.setTimeout(() => {
    const release = state.wedge.flush(performance.now());
    const focused = document.activeElement;
    if (release && isEditable(focused)) {
      focused.value += release;
      focused.dispatchEvent(new Event("input", { bubbles: true }));
    }
    if (state.wedge.pending) scheduleFlush();
  }, state.settings.hiccupMs + 20);
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
export async function onScan(raw: string, since: number) {
  renderTiming();
  if (isEnrollmentToken(raw)) {
    shell.go("device");
    $<HTMLTextAreaElement>("token").value = raw.trim();
    if (!state.status?.enrolled) await enroll();
    return;
  }
  if (!state.status?.enrolled) {
    shell.go("device");
    $("enroll-error").textContent = "Enroll this device first: scan the hub's enrollment code.";
    return;
  }
  try {
    switch (state.screen) {
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
        shell.go("lookup");
        await lookupScan(raw, since);
    }
  } catch (e) {
    showError(errorMessage(e));
    measure(since);
  }
}
