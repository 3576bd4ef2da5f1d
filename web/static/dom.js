// @ts-check
// The dashboard's DOM helpers: text goes in as text, never as markup (names and symbols come from the chain).

import { shortHex } from "./format.js";

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export const main = () => document.getElementById("main");
export const announce = (text) => {
  document.getElementById("announcer").textContent = text;
};

export function table({ id, caption, columns, rows, empty }) {
  const head = h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.numeric ? "num" : undefined }, c.label))));
  const body = h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: columns.length, class: "empty" }, empty)));
  return h("div", { class: "table-scroll", tabindex: 0, role: "region", "aria-labelledby": `${id}-caption` },
    h("table", { id }, h("caption", { id: `${id}-caption` }, caption), head, body));
}

export const num = (text) => h("td", { class: "num" }, text);
export const code = (full, short) => h("code", { title: full }, short ?? full);
export const badge = (text, kind = text) => h("span", { class: `badge badge-${kind}` }, text);
export const workerLink = (address) => h("a", { href: `/workers/${address}`, title: address }, shortHex(address));

/** A selector that finds `element` again in freshly rendered content, or null. */
function focusKey(element) {
  if (element.id) return `#${CSS.escape(element.id)}`;
  for (const attribute of ["href", "data-claim", "aria-labelledby"]) {
    const value = element.getAttribute(attribute);
    if (value !== null) return `${element.tagName.toLowerCase()}[${attribute}="${CSS.escape(value)}"]`;
  }
  return null;
}

/** Replaces a section's content, keeping keyboard focus on the same link or control if it was inside. */
export function replace(id, content) {
  const target = document.getElementById(id);
  if (!target) return;
  const active = document.activeElement;
  const key = active && active !== document.body && target.contains(active) ? focusKey(active) : null;
  target.replaceChildren(content);
  if (key) target.querySelector(key)?.focus();
}

export function problem(error) {
  return h("p", { class: "error", role: "alert" }, error.message ?? String(error));
}

