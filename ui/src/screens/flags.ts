// Flags: the organisation's inbox, each flag moved forward along the lifecycle the ledger
// gives, with the note escalating and closing need; a flag's listed units on demand.
import { api, errorMessage, type Flag, type LifecycleStep } from "../api";
import { $, h } from "../dom";
import { showError } from "../feedback";
import { day, flagMoves, listedUnitLine, needsNote, sortFlags, unitsLine, words } from "../format";

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

export async function renderFlags() {
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
