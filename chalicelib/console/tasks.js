// Tasks: the account's tasks across surfaces (live), and one task's page.
import { call } from "./api.js";
import { append, clear, empty, errorBox, field, h, json, statusBadge, table, time } from "./dom.js";
import { poller } from "./poll.js";
import { runList } from "./runs.js";

const STATUSES = ["", "queued", "executing", "success", "error", "canceled"];
const OPEN = ["queued", "executing"];
const filters = { status: "", type: "" };

export async function render(main, args, ctx) {
  if (args.length) return renderTask(main, args.join("/"), ctx);
  return renderList(main, ctx);
}

function progressOf(progress) {
  if (typeof progress !== "number") return progress === undefined || progress === null
    ? "" : JSON.stringify(progress);
  const max = progress <= 1 ? 1 : 100;
  return h("progress", { max, value: progress, "aria-label": "progress" });
}

function renderList(main, ctx) {
  const status = h("select", { name: "status" },
    STATUSES.map((s) => h("option", { value: s, selected: s === filters.status }, s || "any")));
  const type = h("input", { type: "text", name: "type", value: filters.type,
    placeholder: "e.g. hello" });
  const form = h("form.filters", {}, field("Status", status), field("Type", type),
    h("button", { type: "submit" }, "Filter"));
  const live = h("span.muted.live", { "aria-live": "off" });
  const body = h("div", { "aria-busy": "true" });
  const cursors = [null];
  append(main, h("h1", {}, "Tasks"), form, live, body);

  let last = "";
  async function load() {
    const cursor = cursors[cursors.length - 1];
    const answer = await call("taskport/v1/tasks", { params: {
      status: filters.status, type: filters.type, limit: 100, cursor } });
    if (!ctx.current()) return false;
    const seen = JSON.stringify(answer);
    const changed = seen !== last;
    last = seen;
    live.textContent = `Updated ${new Date().toLocaleTimeString()}`;
    if (changed) draw(answer);
    return changed;
  }

  function draw(answer) {
    body.removeAttribute("aria-busy");
    const rows = (answer.tasks || []).map((task) => h("tr", { "data-key": task.key },
      h("td", {}, h("a", { href: `#/tasks/${encodeURIComponent(task.key)}` }, task.key)),
      h("td", {}, task.type ?? ""),
      h("td", {}, statusBadge(task.status)),
      h("td", {}, progressOf(task.progress)),
      h("td", {}, time(task.created_at)),
      h("td", {}, time(task.updated_at)),
      h("td.num", {}, task.attempts ?? "")));
    const pager = h("div.pager", {},
      cursors.length > 1 ? h("button", { type: "button", onclick: () => {
        cursors.pop(); last = ""; refresh.now(); } }, "Newer") : null,
      answer.next_cursor ? h("button", { type: "button", onclick: () => {
        cursors.push(answer.next_cursor); last = ""; refresh.now(); } }, "Older") : null);
    clear(body, rows.length
      ? table(["Key", "Type", "Status", "Progress", "Created", "Updated", "Attempts"], rows)
      : empty(filters.status || filters.type
        ? "No task matches these filters. Clear them to see every task."
        : "No tasks yet. Create one with any surface, e.g. POST /v1/create with your secret key; it appears here as it runs."),
    pager);
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    filters.status = status.value;
    filters.type = type.value.trim();
    cursors.length = 1;
    last = "";
    refresh.now();
  });

  const refresh = poller(async () => {
    try {
      return await load();
    } catch (error) {
      ctx.unauthorized(error);
      if (ctx.current()) clear(body, errorBox(error));
      last = "";
      throw error;
    }
  });
  ctx.onCleanup(() => refresh.stop());
  refresh.now();
}

function eventList(events) {
  if (!events) return [];
  if (Array.isArray(events)) {
    return events.map((e) => ({ name: e.type || e.name || e.event || "", at: e.at || e.time,
      detail: e.detail ?? e.progress ?? e.data }));
  }
  return Object.entries(events).map(([name, at]) => ({ name, at }));
}

async function renderTask(main, key, ctx) {
  const heading = h("h1", {}, "Task ", h("code", {}, key));
  const body = h("div");
  append(main, h("p", {}, h("a", { href: "#/tasks" }, "← All tasks")), heading, body);
  let last = "";
  // Output files: links to presigned URLs, kept across redraws (they are asked for once).
  const files = h("section.files");
  let filesLoaded = false;

  async function loadFiles() {
    try {
      const answer = await call(`taskport/v1/tasks/${encodeURIComponent(key)}/files`);
      const found = answer.files || [];
      clear(files, found.length ? [h("h2", {}, "Output files"), h("ul", {}, found.map((f) =>
        h("li", {}, h("a", { href: f.url, rel: "noopener noreferrer", target: "_blank" }, f.name))))]
        : null);
    } catch (error) {
      clear(files, errorBox(error));
    }
  }

  async function load() {
    const answer = await call(`taskport/v1/tasks/${encodeURIComponent(key)}`);
    if (!ctx.current()) return false;
    const seen = JSON.stringify(answer);
    if (seen === last) return false;
    last = seen;
    draw(answer);
    return true;
  }

  function draw(answer) {
    const task = answer.task || answer;
    const events = eventList(answer.events || task.events);
    const runs = answer.runs || task.runs || [];
    const open = OPEN.includes(task.status);
    if (task.status === "success" && !filesLoaded) {
      filesLoaded = true;
      loadFiles();
    }
    const problem = h("div", { "aria-live": "polite" });
    const cancel = open ? h("button.danger", { type: "button", onclick: async () => {
      cancel.disabled = true;
      try {
        await call(`taskport/v1/tasks/${encodeURIComponent(key)}/cancel`, { method: "POST" });
        refresh.now();
      } catch (error) {
        cancel.disabled = false;
        clear(problem, errorBox(error));
      }
    } }, "Cancel") : null;
    const lastAttempt = task.last_attempt;
    clear(body,
      h("dl.facts", {},
        h("dt", {}, "Status"), h("dd", {}, statusBadge(task.status)),
        h("dt", {}, "Type"), h("dd", {}, task.type ?? ""),
        h("dt", {}, "Created"), h("dd", {}, time(task.created_at)),
        h("dt", {}, "Updated"), h("dd", {}, time(task.updated_at)),
        h("dt", {}, "Attempts"), h("dd", {}, task.attempts ?? ""),
        lastAttempt ? [h("dt", {}, "Last attempt"), h("dd", {}, `#${lastAttempt.number} `,
          statusBadge(lastAttempt.status),
          lastAttempt.error ? ` ${lastAttempt.error}` : "")] : null,
        task.progress !== undefined && task.progress !== null
          ? [h("dt", {}, "Progress"), h("dd", {}, progressOf(task.progress),
            typeof task.progress === "number" ? ` ${task.progress}` : "")] : null),
      cancel, problem,
      task.params !== undefined ? [h("h2", {}, "Parameters"), json(task.params)] : null,
      task.result !== undefined && task.result !== null ? [h("h2", {}, "Result"), json(task.result)] : null,
      task.error ? [h("h2", {}, "Error"), h("pre.error-text", {}, typeof task.error === "string"
        ? task.error : JSON.stringify(task.error, null, 2))] : null,
      files,
      h("h2", {}, "Events"),
      events.length ? table(["Event", "At", "Detail"], events.map((e) => h("tr", {},
        h("td", {}, e.name), h("td", {}, time(e.at)),
        h("td", {}, e.detail === undefined ? "" : JSON.stringify(e.detail)))))
        : empty("No events yet."),
      h("h2", {}, "Runs"),
      runList(runs, "No runs yet: the task has not started running code."));
    return open;
  }

  const refresh = poller(async () => {
    try {
      return await load();
    } catch (error) {
      ctx.unauthorized(error);
      if (ctx.current()) clear(body, errorBox(error));
      throw error;
    }
  });
  ctx.onCleanup(() => refresh.stop());
  await load().catch((error) => { ctx.unauthorized(error); clear(body, errorBox(error)); });
}
