// Quarantine and release: the form that asks for the reason (or the note) and records it.
// Both screens that offer it (Inspect, Look up) open the same form beside the unit.
import { api, errorMessage, type Recorded } from "./api";
import { h } from "./dom";

/** What the form asks for: a quarantine's reason, or a release's note. */
export type HoldAction = "quarantine" | "release";

/**
 * A form for `code` (shown as `label`). On submit it records the quarantine or release and calls
 * `done` with what was recorded, or with the error's message; an empty text is refused before
 * anything is sent. Only one such form is open at a time (id `hold`).
 */
export function holdForm(
  code: string,
  label: string,
  action: HoldAction,
  done: (outcome: { recorded: Recorded } | { error: string }) => void,
): HTMLFormElement {
  document.getElementById("hold")?.remove();
  const release = action === "release";
  const text = h("textarea", {
    id: "hold-text",
    rows: "3",
    "aria-label": release ? "Release note" : "Quarantine reason",
    placeholder: release ? "What was found: why it may be sold again…" : "Why it is held (damage, suspect label, pending check)…",
  });
  const cancel = h("button", { type: "button", class: "ghost", id: "hold-cancel" }, "Cancel");
  const form = h(
    "form",
    { id: "hold", class: "card form", dataset: { action } },
    h("h2", null, release ? "Release from quarantine" : "Put in quarantine"),
    h("p", { id: "hold-unit" }, label),
    text,
    h(
      "div",
      { class: "buttons" },
      h("button", { type: "submit", class: release ? "primary" : "danger", id: "hold-submit" }, release ? "Release" : "Quarantine"),
      cancel,
    ),
  );
  cancel.addEventListener("click", () => form.remove());
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const words = text.value.trim();
    if (!words) {
      done({ error: release ? "Say what was found: a release needs a note." : "Say why: a quarantine needs a reason." });
      return;
    }
    try {
      const recorded = release ? await api.release(code, words) : await api.quarantine(code, words);
      form.remove();
      (document.activeElement as HTMLElement | null)?.blur();
      done({ recorded });
    } catch (err) {
      done({ error: errorMessage(err) });
    }
  });
  queueMicrotask(() => text.focus());
  return form;
}

/** The button that opens the form. */
export function holdButton(action: HoldAction, open: () => void): HTMLButtonElement {
  const b = h(
    "button",
    { type: "button", class: action === "release" ? "ghost small" : "ghost small danger", dataset: { hold: action } },
    action === "release" ? "Release" : "Quarantine",
  );
  b.addEventListener("click", open);
  return b;
}
