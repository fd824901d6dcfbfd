// Building the page: every value goes in as text (textContent, attributes), never as HTML.

// h("tag.class", {attr: value, onclick: fn}, child, ...): strings and numbers become text nodes.
export function h(spec, attrs = {}, ...children) {
  const [tag, ...classes] = spec.split(".");
  const node = document.createElement(tag || "div");
  if (classes.length) node.className = classes.join(" ");
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else if (name === "value" || name === "checked") {
      node[name] = value;
    } else {
      node.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(node, ...children);
  return node;
}

export function append(node, ...children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(node, ...children) {
  node.replaceChildren();
  append(node, ...children);
  return node;
}

// A time in the viewer's local time zone, the ISO value on hover.
export function time(iso) {
  if (!iso) return h("span.muted", {}, "—");
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return h("span", {}, String(iso));
  return h("time", { datetime: iso, title: iso }, date.toLocaleString());
}

export function json(value) {
  return h("pre.json", {}, value === undefined ? "" : JSON.stringify(value, null, 2));
}

export function empty(text) {
  return h("p.empty", { role: "status" }, text);
}

export function errorBox(error) {
  return h("p.error", { role: "alert" }, error && error.message ? error.message : String(error));
}

export function statusBadge(status) {
  return h(`span.badge.s-${String(status).replace(/[^a-z]/g, "")}`, {}, String(status));
}

let fieldIds = 0;

// A labelled control: label text, the control element; returns the wrapper.
export function field(label, control, hint) {
  const id = control.id || `f${++fieldIds}`;
  control.id = id;
  return h("div.field", {}, h("label", { for: id }, label), control,
    hint ? h("small.muted", {}, hint) : null);
}

export function table(headers, rows) {
  return h("table", {},
    h("thead", {}, h("tr", {}, headers.map((name) => h("th", { scope: "col" }, name)))),
    h("tbody", {}, rows));
}

// A block of captured output (stdout, stderr, traceback) with its heading; nothing when empty.
export function output(title, text, truncated) {
  if (!text) return null;
  return h("section.output", {}, h("h4", {}, title, truncated ? " (truncated)" : ""),
    h("pre", {}, text));
}
