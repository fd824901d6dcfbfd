// Workflows: their webhook, tasks by status, completing or canceling a task, deliveries, replay.
import { call } from "./api.js";
import { append, clear, empty, errorBox, field, h, json, statusBadge, table, time } from "./dom.js";
import { poller } from "./poll.js";

const ROOT = "taskport/v1/workflows";
const GROUPS = { open: "queued,executing,error", completed: "success", canceled: "canceled",
  all: "" };
const OPEN = ["queued", "executing", "error"];

export async function render(main, args, ctx) {
  if (args.length >= 3 && args[1] === "tasks") return renderTask(main, args[0], args[2], ctx);
  if (args.length) return renderWorkflow(main, args[0], args[1] || "open", ctx);
  return renderList(main);
}

function path(...parts) {
  return [ROOT, ...parts.map(encodeURIComponent)].join("/");
}

async function renderList(main) {
  append(main, h("h1", {}, "Workflows"));
  const answer = await call(ROOT);
  const found = answer.workflows || [];
  append(main, found.length
    ? table(["Handle", "Name", "Mode", "Webhook URL", "Webhook"], found.map((w) => h("tr", {},
      h("td", {}, h("a", { href: `#/workflows/${encodeURIComponent(w.handle)}` }, w.handle)),
      h("td", {}, w.name), h("td", {}, w.mode), h("td", {}, h("code", {}, w.webhook_url)),
      h("td", {}, statusBadge(w.webhook_enabled ? "enabled" : "disabled")))))
    : empty("No workflows yet. Create one with PUT /workflows/{handle} (HTTP Basic with your "
      + "client handle and access key); its tasks and webhook deliveries then show here."));
}

async function renderWorkflow(main, handle, group, ctx) {
  const workflow = await call(path(handle));
  if (!ctx.current()) return;
  const secretBox = h("div", { "aria-live": "polite" });
  const rotate = h("button", { type: "button", onclick: async () => {
    if (!confirm("Rotate the webhook secret? The old one keeps verifying for 24 hours.")) return;
    try {
      const rotated = await call(path(handle, "webhook-secret", "rotate"), { method: "POST" });
      clear(secretBox, h("p.ok", { role: "status" }, "New webhook secret (shown once): ",
        h("code.secret", {}, rotated.webhook_secret)));
    } catch (error) {
      clear(secretBox, errorBox(error));
    }
  } }, "Rotate webhook secret");
  const tabs = h("nav.tabs", { "aria-label": "Task status" }, Object.keys(GROUPS).map((name) =>
    h("a", { href: `#/workflows/${encodeURIComponent(handle)}/${name}`,
      "aria-current": name === group ? "page" : null }, name)));
  const list = h("div", {}, h("p.muted", {}, "Loading…"));
  append(main, h("p", {}, h("a", { href: "#/workflows" }, "← All workflows")),
    h("h1", {}, workflow.name, " ", h("span.muted", {}, `(${workflow.handle})`)),
    h("dl.facts", {},
      h("dt", {}, "Mode"), h("dd", {}, workflow.mode),
      h("dt", {}, "Webhook URL"), h("dd", {}, h("code", {}, workflow.webhook_url)),
      h("dt", {}, "Webhook"), h("dd", {}, statusBadge(workflow.webhook_enabled ? "enabled" : "disabled"),
        workflow.webhook_disabled_reason ? ` ${workflow.webhook_disabled_reason}` : ""),
      h("dt", {}, "Input fields"), h("dd", {}, (workflow.input_fields || []).join(", ") || "—"),
      workflow.handler_script_path ? [h("dt", {}, "Script"),
        h("dd", {}, h("code", {}, workflow.handler_script_path))] : null,
      h("dt", {}, "Created"), h("dd", {}, time(workflow.created_at))),
    rotate, secretBox, h("h2", {}, "Tasks"), tabs, list);
  const answer = await call(path(handle, "tasks"), { params: { status: GROUPS[group] ?? "" } });
  if (!ctx.current()) return;
  const tasks = answer.tasks || [];
  clear(list, tasks.length
    ? table(["Id", "Status", "Input", "Updated"], tasks.map((t) => h("tr", {},
      h("td", {}, h("a", { href: `#/workflows/${encodeURIComponent(handle)}/tasks/${encodeURIComponent(t.id)}` }, t.id)),
      h("td", {}, statusBadge(t.status)),
      h("td", {}, h("code", {}, JSON.stringify(t.input))),
      h("td", {}, time(t.updated_at)))))
    : empty(`No ${group === "all" ? "" : `${group} `}tasks. Create one with PUT /workflows/${handle}/tasks/{guid}.`));
}

async function renderTask(main, handle, taskId, ctx) {
  const [workflow, task] = await Promise.all([call(path(handle)),
    call(path(handle, "tasks", taskId))]);
  if (!ctx.current()) return;
  append(main, h("p", {}, h("a", { href: `#/workflows/${encodeURIComponent(handle)}` },
    `← ${workflow.name}`)), h("h1", {}, "Task ", h("code", {}, taskId)));
  const problem = h("div", { "aria-live": "polite" });
  append(main, h("dl.facts", {},
    h("dt", {}, "Status"), h("dd", {}, statusBadge(task.status)),
    h("dt", {}, "Created"), h("dd", {}, time(task.created_at)),
    h("dt", {}, "Updated"), h("dd", {}, time(task.updated_at))),
  h("h2", {}, "Input"), json(task.input),
  task.output ? [h("h2", {}, "Output"), json(task.output)] : null,
  task.error && task.status !== "canceled" ? [h("h2", {}, "Error"), h("pre.error-text", {}, task.error)] : null);
  if (OPEN.includes(task.status)) append(main, completeForm(workflow, handle, taskId, problem));
  append(main, problem);
  const deliveries = h("section", {}, h("h2", {}, "Webhook deliveries"));
  append(main, deliveries);
  await renderDeliveries(deliveries, handle, taskId, ctx);
}

function completeForm(workflow, handle, taskId, problem) {
  const inputs = (workflow.input_fields || []).map((name) =>
    [name, h("input", { type: "text", name: `output-${name}` })]);
  const extra = h("textarea.code", { name: "output_json", rows: 3, spellcheck: "false",
    placeholder: '{"approved": true}' });
  const form = h("form.card", {}, h("h2", {}, "Complete"),
    inputs.map(([name, input]) => field(name, input)),
    field("More output (JSON object)", extra),
    h("div.buttons", {}, h("button", { type: "submit" }, "Complete task"),
      h("button.danger", { type: "button", onclick: async () => {
        try {
          await call(path(handle, "tasks", taskId, "cancel"), { method: "POST" });
          window.dispatchEvent(new HashChangeEvent("hashchange"));
        } catch (error) {
          clear(problem, errorBox(error));
        }
      } }, "Cancel task")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    let output = {};
    try {
      if (extra.value.trim()) output = JSON.parse(extra.value);
    } catch (error) {
      clear(problem, errorBox(`More output is not valid JSON: ${error.message}`));
      return;
    }
    for (const [name, input] of inputs) if (input.value !== "") output[name] = input.value;
    try {
      await call(path(handle, "tasks", taskId, "complete"), { method: "POST", body: { output } });
      window.dispatchEvent(new HashChangeEvent("hashchange"));
    } catch (error) {
      clear(problem, errorBox(error));
    }
  });
  return form;
}

// Deliveries refresh on their own (with backoff) while one of them is still pending.
async function renderDeliveries(section, handle, taskId, ctx) {
  let last = "";
  const problem = h("div", { "aria-live": "polite" });
  const list = h("div.deliveries");
  const replay = h("button", { type: "button", hidden: true, onclick: async () => {
    replay.disabled = true;
    try {
      await call(path(handle, "tasks", taskId, "deliveries", "replay"), { method: "POST" });
      clear(problem);
      refresh.now();
    } catch (error) {
      clear(problem, errorBox(error));
    } finally {
      replay.disabled = false;
    }
  } }, "Replay");
  clear(section, h("h2", {}, "Webhook deliveries"), list, h("div.buttons", {}, replay), problem);

  async function load() {
    const answer = await call(path(handle, "tasks", taskId, "deliveries"));
    if (!ctx.current()) return false;
    const seen = JSON.stringify(answer);
    if (seen === last) return false;
    last = seen;
    const deliveries = answer.deliveries || [];
    replay.hidden = !deliveries.length;
    clear(list, deliveries.length ? deliveries.map(deliveryCard)
      : empty("No deliveries: a task sends its webhook when it is completed or canceled."));
    return true;
  }

  const refresh = poller(async () => {
    try {
      return await load();
    } catch (error) {
      if (ctx.current()) clear(problem, errorBox(error));
      throw error;
    }
  }, { min: 1000, max: 10000 });
  ctx.onCleanup(() => refresh.stop());
  await load();
}

function deliveryCard(d) {
  return h("article.delivery", { "data-delivery": d.id },
    h("header", {}, statusBadge(d.status), " ", h("strong", {}, d.event), " ",
      h("span.muted", {}, d.webhook_id), " · started ", time(d.created_at),
      d.next_attempt_at ? [" · next retry ", time(d.next_attempt_at)] : null,
      d.reason ? ` · ${d.reason}` : ""),
    d.attempts.length ? table(["Time", "Status code", "Error", "Duration"], d.attempts.map((a) =>
      h("tr.attempt", {}, h("td", {}, time(a.at)), h("td", {}, a.status_code ?? "—"),
        h("td", {}, a.error ?? ""), h("td.num", {}, `${a.duration_ms} ms`))))
      : empty("No attempt yet: the first one is on its way."));
}
