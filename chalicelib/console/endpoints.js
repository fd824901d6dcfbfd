// Endpoints: list, create and edit (the handler script saved through the files API), test calls.
import { call, send } from "./api.js";
import { append, clear, empty, errorBox, field, h, statusBadge, table } from "./dom.js";
import { recentRuns } from "./runs.js";

const BASE = "api/v1/http-endpoint";
const TEMPLATE = `def handler(request, *args, **kwargs):
    print("called with", dict(request.args))
    return "Hello " + request.args.get("name", "you")
`;

export async function render(main, args, ctx) {
  if (args[0] === "new") return renderForm(main, null, ctx);
  if (args.length) return renderForm(main, args[0], ctx);
  return renderList(main);
}

async function renderList(main) {
  append(main, h("h1", {}, "Endpoints"),
    h("p", {}, h("a.button", { href: "#/endpoints/new" }, "New endpoint")));
  const answer = await call(`${BASE}/list`);
  const found = answer.endpoints || [];
  append(main, found.length
    ? table(["Id", "Path", "Handler script", "State"], found.map((e) => h("tr", {},
      h("td", {}, h("a", { href: `#/endpoints/${encodeURIComponent(e.id)}` }, e.id)),
      h("td", {}, h("code", {}, `/u/${e.path}`)),
      h("td", {}, h("code", {}, e.handler_script_path)),
      h("td", {}, statusBadge(e.state.toLowerCase())))))
    : empty("No endpoints yet. Choose New endpoint to write a handler script and give it a path."));
}

async function renderForm(main, endpointId, ctx) {
  const creating = endpointId === null;
  let endpoint = { id: "", path: "", handler_script_path: "", state: "ENABLED" };
  let script = TEMPLATE;
  if (!creating) {
    endpoint = await call(`${BASE}/${encodeURIComponent(endpointId)}`);
    try {
      const response = await send("api/v1/fs/files", { params: { path: endpoint.handler_script_path } });
      if (response.ok) script = await response.text();
    } catch {
      // A missing script leaves the template in the editor; saving writes it.
    }
  }
  if (!ctx.current()) return;
  const id = h("input", { type: "text", name: "id", value: endpoint.id, required: true,
    readonly: !creating, pattern: "[A-Za-z0-9_.\\-]{1,128}" });
  const path = h("input", { type: "text", name: "path", value: endpoint.path, required: true,
    pattern: "[A-Za-z0-9_\\-]{1,128}" });
  const scriptPath = h("input", { type: "text", name: "handler_script_path",
    value: endpoint.handler_script_path, required: true, placeholder: "/scripts/hello.py" });
  const source = h("textarea.code", { name: "script", rows: 14, spellcheck: "false",
    value: script });
  const enabled = h("input", { type: "checkbox", name: "enabled",
    checked: endpoint.state === "ENABLED" });
  const problem = h("div", { "aria-live": "polite" });
  const form = h("form.card", {},
    field("Id", id), field("Path", path, "Called at /api/v1/http-endpoint/u/<path>"),
    field("Handler script path", scriptPath),
    field("Handler script", source, "Saved through the files API at the path above."),
    h("div.field.inline", {}, enabled, h("label", { for: "endpoint-enabled" }, "Enabled")),
    problem, h("button", { type: "submit" }, creating ? "Create endpoint" : "Save"));
  enabled.id = "endpoint-enabled";
  id.addEventListener("input", () => {
    if (creating && !scriptPath.dataset.touched) scriptPath.value = `/scripts/${id.value}.py`;
    if (creating && !path.dataset.touched) path.value = id.value.replace(/[^A-Za-z0-9_-]/g, "-");
  });
  path.addEventListener("input", () => { path.dataset.touched = "1"; });
  scriptPath.addEventListener("input", () => { scriptPath.dataset.touched = "1"; });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clear(problem);
    try {
      await call("api/v1/fs/files", { method: "PUT", params: { path: scriptPath.value.trim() },
        raw: source.value, headers: { "Content-Type": "text/x-python" } });
      const body = { path: path.value.trim(), handler_script_path: scriptPath.value.trim(),
        enabled: enabled.checked };
      if (creating) {
        await call(`${BASE}/${encodeURIComponent(id.value.trim())}`, { method: "PUT", body });
        location.hash = `#/endpoints/${encodeURIComponent(id.value.trim())}`;
      } else {
        await call(`${BASE}/${encodeURIComponent(endpointId)}`, { method: "PATCH", body });
        clear(problem, h("p.ok", { role: "status" }, "Saved."));
      }
    } catch (error) {
      clear(problem, errorBox(error));
    }
  });
  append(main, h("p", {}, h("a", { href: "#/endpoints" }, "← All endpoints")),
    h("h1", {}, creating ? "New endpoint" : `Endpoint ${endpoint.id}`), form);
  if (!creating) {
    append(main, testForm(endpoint));
    const calls = h("section", {}, h("h2", {}, "Recent calls"), h("p.muted", {}, "Loading…"));
    append(main, calls);
    const refresh = async () => {
      try {
        const list = await recentRuns({ endpoint: endpoint.id },
          "No calls yet. Send a test request above.");
        if (ctx.current()) clear(calls, h("h2", {}, "Recent calls"), list);
      } catch (error) {
        if (ctx.current()) clear(calls, h("h2", {}, "Recent calls"), errorBox(error));
      }
    };
    // A run is recorded as the call ends; ask again a little later in case it lands after.
    let later = null;
    const called = () => { refresh(); clearTimeout(later); later = setTimeout(refresh, 1500); };
    main.addEventListener("endpoint-called", called);
    ctx.onCleanup(() => { clearTimeout(later); main.removeEventListener("endpoint-called", called); });
    refresh();
  }
}

function testForm(endpoint) {
  const method = h("select", { name: "method" },
    ["GET", "POST", "PUT", "PATCH", "DELETE"].map((m) => h("option", { value: m }, m)));
  const queryInput = h("input", { type: "text", name: "query", placeholder: "name=Ada&x=1" });
  const body = h("textarea.code", { name: "body", rows: 4, spellcheck: "false" });
  const contentType = h("input", { type: "text", name: "content_type", value: "application/json" });
  const answer = h("div.answer", { "aria-live": "polite" });
  const form = h("form.card", {},
    h("h2", {}, "Send test request"),
    field("Method", method), field("Query", queryInput), field("Body", body),
    field("Content-Type", contentType),
    h("button", { type: "submit" }, "Send test request"), answer);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clear(answer, h("p.muted", {}, "Sending…"));
    const params = Object.fromEntries(new URLSearchParams(queryInput.value.replace(/^\?/, "")));
    const options = { method: method.value, params };
    if (method.value !== "GET" && body.value) {
      options.raw = body.value;
      options.headers = { "Content-Type": contentType.value || "text/plain" };
    }
    const started = performance.now();
    try {
      const response = await send(`${BASE}/u/${encodeURIComponent(endpoint.path)}`, options);
      const text = await response.text();
      const took = Math.round(performance.now() - started);
      clear(answer,
        h("p", {}, "Status ", h("strong.http-status", {}, String(response.status)), ` · ${took} ms`),
        h("h3", {}, "Headers"),
        table(["Header", "Value"], [...response.headers].map(([name, value]) =>
          h("tr", {}, h("td", {}, name), h("td", {}, value)))),
        h("h3", {}, "Body"), h("pre.response-body", {}, text));
    } catch (error) {
      clear(answer, errorBox(error));
    }
    form.dispatchEvent(new CustomEvent("endpoint-called", { bubbles: true }));
  });
  return form;
}
