// Look up: a unit's biography, and quarantine or release from it.
import { api, type History } from "../api";
import { biography } from "../biography";
import { $, h } from "../dom";
import { measure, say, showError } from "../feedback";
import { day, words } from "../format";
import { holdButton, holdForm, type HoldAction } from "../hold";
import { shell, state } from "../state";

export async function lookupScan(raw: string, since: number) {
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

/** Opens the quarantine / release form above `list` (Inspect) or below the biography (Look up). */
export function openHold(where: HTMLElement, code: string, label: string, action: HoldAction) {
  const form = holdForm(code, label, action, (outcome) => {
    if ("error" in outcome) return showError(outcome.error);
    const life = outcome.recorded.history;
    const q = life.custody.quarantine;
    if (action === "quarantine") say("bad", "Quarantined", q ? `${life.label}: in quarantine since ${day(q.since)} — ${q.reason}` : life.label, "quarantine-recorded");
    else say("good", "Released", `${life.label}: released from quarantine; it may be sold and shipped again.`, "release-recorded");
    if (state.screen === "lookup") showBiography(life);
    void shell.refreshStatus();
  });
  if (where.id === "inspected") where.before(form);
  else where.after(form);
}
