// Run records (/taskport/v1/runs): what each execution of user code did.
import { call } from "./api.js";
import { clear, empty, errorBox, h, output, statusBadge, time } from "./dom.js";

function ms(value) {
  return value === undefined || value === null ? "" : `${value} ms`;
}

function bytes(value) {
  if (value === undefined || value === null) return "";
  return value >= 1048576 ? `${(value / 1048576).toFixed(1)} MiB` : `${Math.round(value / 1024)} KiB`;
}

function subjectOf(run) {
  const subject = run.subject;
  if (!subject) return "";
  if (typeof subject === "string") return subject;
  return Object.entries(subject).map(([k, v]) => `${k}: ${v}`).join(", ");
}

function details(run) {
  const error = run.error || null;
  return [
    output("stdout", run.stdout, run.stdout_truncated ?? run.truncated?.stdout),
    output("stderr", run.stderr, run.stderr_truncated ?? run.truncated?.stderr),
    error ? h("section.output", {}, h("h4", {}, "Error"),
      h("p.error-text", {}, [error.type, error.message].filter(Boolean).join(": ")),
      error.traceback ? h("pre.traceback", {}, error.traceback) : null) : null,
    !run.stdout && !run.stderr && !error ? h("p.muted", {}, "No output.") : null,
  ];
}

// One run: a summary line, then its output; the full record is fetched when only a summary is given.
export function runCard(run) {
  const more = h("div.run-output");
  const card = h("article.run", { "data-run": run.id },
    h("header", {}, statusBadge(run.status), " ", h("strong", {}, run.kind ?? "run"), " ",
      h("span.muted", {}, subjectOf(run)), " · ", time(run.started_at),
      " · ", ms(run.duration_ms),
      run.http_status ?? run.status_code ? ` · HTTP ${run.http_status ?? run.status_code}` : "",
      run.cpu_ms != null ? ` · CPU ${ms(run.cpu_ms)}` : "",
      run.max_rss_bytes ? ` · peak ${bytes(run.max_rss_bytes)}` : ""),
    more);
  if ("stdout" in run || "error" in run || !run.id) {
    clear(more, details(run));
  } else {
    call(`taskport/v1/runs/${encodeURIComponent(run.id)}`)
      .then((full) => clear(more, details(full.run || full)))
      .catch((error) => clear(more, errorBox(error)));
  }
  return card;
}

export function runList(runs, emptyText) {
  if (!runs || !runs.length) return empty(emptyText);
  return h("div.runs", {}, runs.map(runCard));
}

// The newest runs matching `params`, e.g. {endpoint: id}.
export async function recentRuns(params, emptyText) {
  const answer = await call("taskport/v1/runs", { params: { limit: 20, ...params } });
  return runList(answer.runs || [], emptyText);
}
