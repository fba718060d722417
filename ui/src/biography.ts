// A unit's biography as the screens show it: custody chain, warranty, service, flags.
import type { History } from "./api";
import { h } from "./dom";
import { custodyLine, day, quarantineLine, warrantyLine, words } from "./format";

function section(title: string, ...body: (Node | null)[]): HTMLElement {
  return h("section", { class: "bio-section" }, h("h3", null, title), ...body);
}

function list(items: string[], empty: string): HTMLElement {
  return items.length ? h("ul", null, ...items.map((i) => h("li", null, i))) : h("p", { class: "muted" }, empty);
}

/** The card the Service screen shows for the unit on the bench. */
export function serviceCard(life: History): HTMLElement {
  const w = warrantyLine(life.warranty);
  const openFlags = life.flags.filter((f) => f.status !== "closed");
  return h(
    "article",
    { class: "card unit-card", id: "unit-card", dataset: { covered: String(w.covered) } },
    h("h2", null, life.product ?? life.label),
    h("p", { class: "unit" }, life.label),
    h("p", { id: "unit-warranty", class: w.covered ? "covered" : "not-covered" }, w.text),
    h("p", { id: "unit-owner" }, `Owner: ${life.custody.owner ?? life.warranty?.registered_owner ?? "not known"}`),
    h("p", null, custodyLine(life.custody)),
    openFlags.length || life.counterfeit_reports.length
      ? h("p", { class: "alarm" }, [...openFlags.map((f) => `${words(f.kind)} flag: ${f.reason}`), ...life.counterfeit_reports.map((r) => `Reported counterfeit: ${r.note}`)].join(" · "))
      : null,
    section(
      "Repairs",
      list(
        life.service.map((r) => `${day(r.time)} · ${r.order}${r.refurbished ? " · refurbished" : ""} · fitted ${r.parts_in.length}, removed ${r.parts_out.length} · ${r.org}`),
        "No repairs recorded.",
      ),
    ),
    section("Parts fitted now", list(life.parts.map((p) => `${p.label} · since ${day(p.since)}`), "No serialised parts recorded.")),
    section(
      "Claims",
      list(
        life.claims.map((c) => `${day(c.time)} · ${c.defect} · ${c.validation.accepted ? "valid" : "refused"}: ${c.validation.reason}`),
        "No claims.",
      ),
    ),
  );
}

/** The Look up screen's biography of any code. */
export function biography(life: History): HTMLElement {
  const w = warrantyLine(life.warranty);
  return h(
    "article",
    { class: "card biography", id: "bio" },
    h("h2", null, life.product ?? life.label),
    h("p", { class: "unit" }, life.label),
    h("p", { id: "bio-custody" }, custodyLine(life.custody)),
    life.custody.quarantine ? h("p", { id: "bio-quarantine", class: "alarm" }, quarantineLine(life.custody.quarantine)) : null,
    section(
      "Custody chain",
      life.custody.chain.length
        ? h(
            "ol",
            { class: "chain" },
            ...life.custody.chain.map((l) =>
              h(
                "li",
                null,
                h("strong", null, words(l.step)),
                l.detail ? ` (${words(l.detail)})` : "",
                ` ${day(l.time)} · ${l.org} · ${l.site}`,
                l.destination ? ` → ${l.destination}` : "",
                l.transaction ? ` · ${l.transaction}` : "",
                l.via ? ` (in ${l.via})` : "",
              ),
            ),
          )
        : h("p", { class: "muted" }, "This device holds no events about it yet."),
    ),
    section("Warranty", h("p", { class: w.covered ? "covered" : "" }, w.text)),
    life.contents.length ? section("Contents", list(life.contents, "")) : null,
    section("Service", list(life.service.map((r) => `${day(r.time)} · ${r.order} · ${r.org}`), "No repairs recorded.")),
    section(
      "Flags and reports",
      list(
        [
          ...life.flags.map((f) => `${words(f.kind)} · ${words(f.status)}: ${f.reason}`),
          ...life.counterfeit_reports.map((r) => `Counterfeit report ${day(r.time)} by ${r.org}: ${r.note}`),
          ...(life.quarantines ?? []).map(
            (q) =>
              `Quarantine ${day(q.since)} by ${q.org}: ${q.reason}` +
              (q.released ? ` · released ${day(q.released.at)} by ${q.released.org}${q.released.note ? `: ${q.released.note}` : ""}` : " · still held"),
          ),
        ],
        "None.",
      ),
    ),
  );
}
