// Ship: pick an order by scanning what goes out, then close it: what was picked ships.
import { api, errorMessage, type Picking } from "../api";
import { $, h } from "../dom";
import { afterPaint, measure, record, say, showError } from "../feedback";
import { shell } from "../state";

let orderId: string | null = null;
let orders: Picking[] = [];

export async function shipScan(raw: string, since: number) {
  if (!orderId) {
    say("caution", "Pick an order first", "Choose the order you are picking, then scan what goes out.", "no_order");
    measure(since);
    return;
  }
  await record(raw, "shipping", orderId, since);
  afterPaint(() => void loadOrders().catch((e) => showError(errorMessage(e))));
}

export async function loadOrders() {
  orders = await api.orders();
  const open = orders.filter((o) => o.status === "open" || o.id === orderId);
  if (!orderId && open.length) orderId = open[0].id;
  const select = $<HTMLSelectElement>("order");
  select.replaceChildren(
    h("option", { value: "" }, open.length ? "Choose an order" : "No orders to pick"),
    ...open.map((o) => h("option", { value: o.id }, `${o.id} · to ${o.to} · ${o.status}`)),
  );
  select.value = orderId ?? "";
  renderOrder();
}

function renderOrder() {
  const o = orders.find((x) => x.id === orderId);
  $("pick-left").textContent = String(o?.left ?? 0);
  $("pick-done").textContent = String(o?.units.length ?? 0);
  $<HTMLButtonElement>("close-order").disabled = !o || o.status !== "open" || o.units.length === 0;
  $("pick-lines").replaceChildren(
    ...(o?.lines ?? []).map((l) =>
      h(
        "li",
        { dataset: { tone: l.picked >= l.quantity ? "good" : "caution" } },
        h("strong", null, `${l.picked} of ${l.quantity} · ${l.product ?? l.gtin}`),
        h("span", null, l.picked >= l.quantity ? "complete" : `${l.quantity - l.picked} still to pick`),
      ),
    ),
  );
}

$<HTMLSelectElement>("order").addEventListener("change", (e) => {
  orderId = (e.target as HTMLSelectElement).value || null;
  (e.target as HTMLSelectElement).blur();
  $("ship-confirm").hidden = true;
  renderOrder();
});

$("close-order").addEventListener("click", (e) => {
  (e.currentTarget as HTMLElement).blur();
  const o = orders.find((x) => x.id === orderId);
  if (!o) return;
  if (o.left === 0) return void shipOrder();
  $("ship-summary").textContent = `${o.id} is ${o.left} unit(s) short. Ship what is picked?`;
  $("ship-confirm").hidden = false;
});
$("ship-accept").addEventListener("click", () => void shipOrder());
$("ship-cancel").addEventListener("click", () => ($("ship-confirm").hidden = true));

async function shipOrder() {
  if (!orderId) return;
  $("ship-confirm").hidden = true;
  try {
    const r = await api.closeOrder(orderId);
    say(r.order.left ? "caution" : "good", `${r.order.id} shipped`, `${r.order.units.length} unit(s) to ${r.order.to}. Outbound manifest: ${r.manifest_file}`, "shipped");
    orderId = null;
    await loadOrders();
    void shell.refreshStatus();
  } catch (e) {
    showError(errorMessage(e));
  }
}
