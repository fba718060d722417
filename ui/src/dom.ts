// A small element builder: h("li", { class: "x", dataset: { tone: "good" } }, "text", child).
type Attrs = { [name: string]: string | boolean | undefined | Record<string, string>; dataset?: Record<string, string> };

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs | null = null,
  ...children: (Node | string | null | undefined | false)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (k === "dataset") Object.assign(el.dataset, v as Record<string, string>);
    else if (v === true) el.setAttribute(k, "");
    else if (typeof v === "string") el.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

export const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
