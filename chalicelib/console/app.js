// The console's shell: sign in and out, navigation, and one view per route of the hash.
import { ApiError, call, forgetToken, setToken, token } from "./api.js";
import { append, clear, errorBox, field, h } from "./dom.js";
import * as endpoints from "./endpoints.js";
import * as packages from "./packages.js";
import * as tasks from "./tasks.js";
import * as workflows from "./workflows.js";

const VIEWS = { tasks, endpoints, workflows, packages };
const main = document.getElementById("main");
const nav = document.getElementById("nav");
const signOutButton = document.getElementById("sign-out");
let cleanup = null;
let generation = 0;

function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean)
    .map(decodeURIComponent);
  return { view: parts[0] || "tasks", args: parts.slice(1) };
}

function stopView() {
  if (cleanup) cleanup();
  cleanup = null;
}

// The view's context: whether it is still the one shown (a later navigation replaces it),
// and what to do when the API says the token is no longer good.
function context(mine) {
  return {
    current: () => mine === generation,
    onCleanup: (fn) => {
      const previous = cleanup;
      cleanup = () => { if (previous) previous(); fn(); };
    },
    unauthorized: (error) => {
      if (error instanceof ApiError && error.status === 401) signOut(error.message);
    },
  };
}

async function show() {
  stopView();
  const mine = ++generation;
  if (!token()) {
    renderSignIn();
    return;
  }
  nav.hidden = false;
  signOutButton.hidden = false;
  const { view, args } = route();
  for (const link of nav.querySelectorAll("a")) {
    if (link.getAttribute("href") === `#/${view}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const module = VIEWS[view];
  clear(main);
  if (!module) {
    append(main, errorBox(`There is no page "${view}".`));
    return;
  }
  try {
    await module.render(main, args, context(mine));
  } catch (error) {
    if (mine !== generation) return;
    if (error instanceof ApiError && error.status === 401) {
      signOut(error.message);
      return;
    }
    append(main, errorBox(error));
  }
}

function renderSignIn(message) {
  nav.hidden = true;
  signOutButton.hidden = true;
  const input = h("input", { type: "password", name: "token", autocomplete: "off", required: true,
    spellcheck: "false" });
  const problem = h("div", { "aria-live": "polite" }, message ? errorBox(message) : null);
  const form = h("form.card.sign-in", { "aria-labelledby": "sign-in-title" },
    h("h1", { id: "sign-in-title" }, "Sign in"),
    h("p", {}, "Sign in with your account's token (tpt_…), as the admin API or make dev printed it."),
    field("Token", input),
    problem,
    h("button", { type: "submit" }, "Sign in"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = input.value.trim();
    setToken(value);
    try {
      await call("taskport/v1/workflows");
    } catch (error) {
      forgetToken();
      const why = error instanceof ApiError && error.status === 401
        ? `That token was not accepted: ${error.message}.` : error.message;
      clear(problem, errorBox(why));
      input.focus();
      return;
    }
    show();
    main.focus();
  });
  clear(main, form);
  input.focus();
}

function signOut(message) {
  forgetToken();
  stopView();
  ++generation;
  renderSignIn(message ? `Signed out: ${message}.` : "Signed out.");
}

signOutButton.addEventListener("click", () => signOut());
window.addEventListener("hashchange", show);
show();
