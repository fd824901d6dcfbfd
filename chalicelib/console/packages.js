// Packages: packages and their versions (methods, build), instances per workspace, invoking a method.
import { call, send } from "./api.js";
import { append, clear, empty, errorBox, field, h, json, statusBadge, table, time } from "./dom.js";

export async function render(main, args, ctx) {
  if (args.length) return renderPackage(main, args[0], ctx);
  return renderList(main);
}

async function instancesByWorkspace() {
  const spaces = (await call("api/v1/workspace/list", { method: "POST", body: {} })).data.workspaces || [];
  const lists = await Promise.all(spaces.map((w) => call("api/v1/package/instance/list", {
    method: "POST", body: {}, headers: { "X-Workspace-Handle": w.handle } })));
  return spaces.map((w, i) => ({ workspace: w, instances: lists[i].data.packageInstances || [] }));
}

function instanceTable(groups, withPackage) {
  const rows = groups.flatMap(({ workspace, instances }) => instances.map((inst) => h("tr", {},
    h("td", {}, workspace.handle), h("td", {}, inst.handle),
    withPackage ? h("td", {}, h("a", { href: `#/packages/${encodeURIComponent(inst.packageHandle)}` },
      inst.packageHandle)) : null,
    h("td", {}, inst.packageVersionHandle), h("td", {}, h("code", {}, `/${workspace.handle}/${inst.handle}/<method>`)),
    h("td", {}, time(inst.createdAt)))));
  if (!rows.length) return null;
  return table(["Workspace", "Instance", ...(withPackage ? ["Package"] : []), "Version", "URL", "Created"], rows);
}

async function renderList(main) {
  append(main, h("h1", {}, "Packages"));
  const [packages, groups] = await Promise.all([
    call("api/v1/package/list", { method: "POST", body: {} }), instancesByWorkspace()]);
  const found = packages.data.packages || [];
  append(main, found.length
    ? table(["Handle", "Latest version", "Created"], found.map((p) => h("tr", {},
      h("td", {}, h("a", { href: `#/packages/${encodeURIComponent(p.handle)}` }, p.handle)),
      h("td", {}, p.latestVersionHandle ?? "—"), h("td", {}, time(p.createdAt)))))
    : empty("No packages yet. Create one with POST /api/v1/package/create, then a version with "
      + "POST /api/v1/package/version/create."),
  h("h2", {}, "Instances"),
  instanceTable(groups, true) || empty("No instances. Create one with POST /api/v1/package/instance/create."));
}

function buildFacts(version) {
  // Versions built from a bundle say how their build went; plain modules have nothing to build.
  const status = version.buildStatus ?? version.build?.status;
  const log = version.buildOutput ?? version.build?.output ?? version.buildLog;
  return [status ? statusBadge(status) : h("span.muted", {}, "no build"),
    log ? h("details", {}, h("summary", {}, "Build output"), h("pre", {}, log)) : null];
}

async function renderPackage(main, handle, ctx) {
  const [pkg, versions, groups] = await Promise.all([
    call("api/v1/package/get", { method: "POST", body: { handle } }),
    call("api/v1/package/version/list", { method: "POST", body: { packageHandle: handle } }),
    instancesByWorkspace()]);
  if (!ctx.current()) return;
  const list = versions.data.packageVersions || [];
  const mine = groups.map((g) => ({ ...g,
    instances: g.instances.filter((i) => i.packageHandle === handle) }));
  append(main, h("p", {}, h("a", { href: "#/packages" }, "← All packages")),
    h("h1", {}, "Package ", h("code", {}, pkg.data.package.handle)),
    h("h2", {}, "Versions"),
    list.length ? table(["Version", "Methods", "Build", "Created"], list.map((v) => h("tr", {},
      h("td", {}, v.handle),
      h("td", {}, h("ul.plain", {}, (v.methods || []).map((m) => h("li", {}, h("code", {},
        `${m.name}(${(m.parameters || []).join(", ")})`), m.background ? " background" : "")))),
      h("td", {}, buildFacts(v)), h("td", {}, time(v.createdAt)))))
      : empty("No versions yet. Create one with POST /api/v1/package/version/create."),
    h("h2", {}, "Instances"),
    instanceTable(mine, false) || empty("No instance of this package. Create one with "
      + "POST /api/v1/package/instance/create."));
  const instances = mine.flatMap((g) => g.instances.map((i) => ({ ...i, workspace: g.workspace.handle })));
  if (instances.length) append(main, invokeForm(instances, list));
}

function invokeForm(instances, versions) {
  const methodsOf = (instance) =>
    (versions.find((v) => v.handle === instance.packageVersionHandle) || {}).methods || [];
  const instance = h("select", { name: "instance" }, instances.map((i, n) =>
    h("option", { value: String(n) }, `${i.workspace}/${i.handle}`)));
  const method = h("select", { name: "method" });
  const args = h("textarea.code", { name: "arguments", rows: 4, spellcheck: "false" });
  const background = h("input", { type: "checkbox", name: "background", id: "invoke-background" });
  const answer = h("div.answer", { "aria-live": "polite" });
  function fillMethods() {
    const methods = methodsOf(instances[Number(instance.value)]);
    clear(method, methods.map((m) => h("option", { value: m.name }, m.name)));
    fillArguments();
  }
  function fillArguments() {
    const methods = methodsOf(instances[Number(instance.value)]);
    const chosen = methods.find((m) => m.name === method.value);
    const template = Object.fromEntries(((chosen && chosen.parameters) || []).map((p) => [p, ""]));
    args.value = JSON.stringify(template, null, 2);
  }
  instance.addEventListener("change", fillMethods);
  method.addEventListener("change", fillArguments);
  fillMethods();
  const form = h("form.card", {}, h("h2", {}, "Invoke a method"),
    field("Instance", instance), field("Method", method),
    field("Arguments (JSON object)", args),
    h("div.field.inline", {}, background, h("label", { for: "invoke-background" }, "In the background")),
    h("button", { type: "submit" }, "Invoke"), answer);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    let body;
    try {
      body = args.value.trim() ? JSON.parse(args.value) : {};
    } catch (error) {
      clear(answer, errorBox(`The arguments are not valid JSON: ${error.message}`));
      return;
    }
    const chosen = instances[Number(instance.value)];
    clear(answer, h("p.muted", {}, "Calling…"));
    try {
      const response = await send(`${encodeURIComponent(chosen.workspace)}/${encodeURIComponent(chosen.handle)}/${encodeURIComponent(method.value)}`,
        { method: "POST", body, params: background.checked ? { background: "true" } : {} });
      const text = await response.text();
      let parsed = text;
      try { parsed = JSON.parse(text); } catch { /* shown as text */ }
      const value = parsed && typeof parsed === "object" && "data" in parsed ? parsed.data : parsed;
      clear(answer, h("p", {}, "Status ", h("strong", {}, String(response.status))),
        parsed && parsed.task ? [h("h3", {}, "Task"), json(parsed.task)] : null,
        response.ok && !(parsed && parsed.task && !("data" in parsed))
          ? [h("h3", {}, "Value"), h("pre.invoke-value", {}, typeof value === "string" ? value : JSON.stringify(value, null, 2))]
          : null);
    } catch (error) {
      clear(answer, errorBox(error));
    }
  });
  return form;
}
