// Sell: a sale records `retail_selling` and shows the cover that starts.
import { api } from "../api";
import { $, h } from "../dom";
import { record } from "../feedback";
import { warrantyLine } from "../format";
import { VERDICTS } from "../verdicts";

export async function sellScan(raw: string, since: number) {
  const v = await record(raw, "retail_selling", null, since);
  const card = $("sale");
  if (v.verdict !== "ok" && v.verdict !== "provisional") {
    card.hidden = false;
    card.dataset.tone = VERDICTS[v.verdict].tone;
    card.replaceChildren(h("h2", null, `Do not sell: ${VERDICTS[v.verdict].word}`), h("p", null, v.reason));
    return;
  }
  const life = await api.history(raw);
  const w = warrantyLine(life.warranty);
  card.hidden = false;
  card.dataset.tone = "good";
  card.replaceChildren(
    h("h2", null, `Sold: ${life.product ?? life.label}`),
    h("p", { class: "unit" }, life.label),
    h("p", { id: "sale-warranty", class: w.covered ? "covered" : "" }, w.text),
  );
}
