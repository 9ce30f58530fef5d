"use strict";
// The browse-and-pick screen: plain JavaScript over the app's JSON routes (same origin only).

const $ = (selector) => document.querySelector(selector);

// this run's session secret: sent with every request; a page of another origin cannot read it
const SESSION = document.querySelector('meta[name="session"]').content;

class CallError extends Error {
  constructor(message, status, data) { super(message); this.status = status; this.data = data; }
}

async function call(path, body) {
  const headers = { "X-Confluence-V2-Session": SESSION };
  const options = body === undefined ? { headers } : {
    method: "POST",
    headers: { ...headers, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  };
  const response = await fetch(path, { credentials: "same-origin", ...options });
  const data = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok || data.error) {
    throw new CallError(data.error || `HTTP ${response.status}`, response.status, data);
  }
  return data;
}

// feedback next to what caused it: each section has its own message line
function say(text, kind = "error", where = "#message") {
  const box = $(where);
  box.textContent = text;
  box.className = `message ${kind}`;
  box.hidden = !text;
}

// ---- credentials --------------------------------------------------------------------------

function showCredentials(list, chosen) {
  const select = $("#credential");
  select.replaceChildren();
  if (!list.length) select.append(new Option("(no stored credential: add an API token)", ""));
  for (const c of list) select.append(new Option(`${c.id} (${c.kind}, ${c.site})`, c.id));
  if (chosen) select.value = chosen;
  $("#add-token").open = !list.length;
  $("#delete-credential").disabled = !list.length;
}

async function deleteCredential() {
  const chosen = $("#credential").value;
  if (!chosen || !window.confirm(`Delete the stored credential ${chosen}?`)) return;
  try {
    const data = await call(`/api/credentials/${encodeURIComponent(chosen)}/delete`, {});
    showCredentials(data.credentials);
    say(`Deleted credential ${chosen}.`, "ok", "#credential-message");
  } catch (error) {
    say(error.message, "error", "#credential-message");
  }
}

async function addToken(event) {
  event.preventDefault();
  const form = event.target;
  const fields = Object.fromEntries(new FormData(form));
  fields.scoped = form.scoped.checked;
  say("Checking the token with Confluence…", "ok", "#credential-message");
  try {
    let data;
    try {
      data = await call("/api/credentials", fields);
    } catch (error) {
      if (error.status !== 409) throw error;
      if (!window.confirm(`A credential named ${fields.id} is stored already. Replace it?`)) {
        say("Nothing was stored: choose another name.", "error", "#credential-message");
        return;
      }
      data = await call("/api/credentials", { ...fields, replace: true });
    }
    form.reset();
    showCredentials(data.credentials, data.added);
    if (!$("#url").value) $("#url").value = fields.site;
    say(`Stored credential ${data.added}.`, "ok", "#credential-message");
  } catch (error) {
    say(error.message, "error", "#credential-message");
  }
}

async function signIn(event) {
  event.preventDefault();
  const form = event.target;
  const tab = window.open("", "_blank"); // opened now, while the click still counts
  try {
    const { sign_in: ticket } = await call("/api/sign-in", Object.fromEntries(new FormData(form)));
    form.client_secret.value = "";
    say("Signing in: finish in the tab that opened.", "ok", "#credential-message");
    let opened = false;
    for (;;) {
      const state = await call(`/api/sign-in/${ticket}`);
      if (state.state === "open" && !opened) {
        opened = true;
        if (tab) tab.location = state.url; else window.open(state.url, "_blank");
      }
      if (state.state === "done") {
        showCredentials(state.credentials, state.credential_id);
        say(`Signed in: stored credential ${state.credential_id}.`, "ok", "#credential-message");
        return;
      }
      if (state.state === "failed") {
        if (tab && !opened) tab.close();
        say(state.error, "error", "#credential-message");
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 400));
    }
  } catch (error) {
    if (tab) tab.close();
    say(error.message, "error", "#credential-message");
  }
}

// ---- the tree -----------------------------------------------------------------------------

function item(node, level) {
  const li = document.createElement("li");
  li.setAttribute("role", "treeitem");
  li.setAttribute("aria-level", String(level));
  li.setAttribute("aria-checked", "false");
  li.tabIndex = -1;
  li.dataset.id = node.id;
  li.dataset.kind = node.kind;
  if (node.space) li.dataset.space = node.space;
  const row = document.createElement("div");
  row.className = "node";
  const twisty = document.createElement("span");
  twisty.className = "twisty";
  twisty.setAttribute("aria-hidden", "true");
  const box = document.createElement("input");
  box.type = "checkbox";
  box.tabIndex = -1;
  box.setAttribute("aria-label", `Import ${node.title}`);
  box.addEventListener("change", () => tick(li, box.checked));
  const label = document.createElement("span");
  label.className = "title";
  const kind = node.kind === "blogpost" ? "blog post" : node.kind;
  label.textContent = node.title || "(untitled)";
  const tag = document.createElement("span");
  tag.className = `kind ${kind.replace(" ", "-")}`;
  tag.textContent = kind;
  row.append(twisty, box, label, tag);
  if (node.imported) {
    const held = document.createElement("span");
    held.className = "kind imported";
    held.textContent = "imported";
    row.append(held);
  }
  if (node.kind === "page" && node.children) { // shown once the page is ticked
    const sub = document.createElement("label");
    sub.className = "sub";
    const subBox = document.createElement("input");
    subBox.type = "checkbox";
    subBox.checked = true;
    subBox.tabIndex = -1;
    subBox.className = "with-children";
    subBox.addEventListener("change", refreshTicks);
    sub.append(subBox, " with sub-pages");
    row.append(sub);
  }
  li.append(row);
  if (node.children) {
    li.setAttribute("aria-expanded", "false");
    twisty.textContent = "▸";
    twisty.addEventListener("click", () => toggle(li));
    if (node.nodes) { // read with its parent: drawn open
      li.append(group(node.nodes, level + 1));
      li.setAttribute("aria-expanded", "true");
      twisty.textContent = "▾";
    }
  } else {
    twisty.textContent = "·";
  }
  label.addEventListener("click", () => focusItem(li));
  return li;
}

function showNodes(list, nodes, level) {
  list.replaceChildren(...nodes.map((node) => item(node, level)));
  refreshTicks();
}

function tick(li, on) {
  li.querySelector(":scope > .node > input[type=checkbox]").checked = on;
  li.setAttribute("aria-checked", String(on));
  refreshTicks();
}

function coversBelow(li) { // a ticked space, folder (or other node), or page with its sub-pages
  if (li.getAttribute("aria-checked") !== "true") return false;
  return li.dataset.kind !== "page"
    || li.querySelector(":scope > .node .with-children")?.checked !== false;
}

// what a tick covers shows on the rows below it, and the count of what will be imported
function refreshTicks() {
  for (const li of document.querySelectorAll("#tree [role=treeitem]")) {
    const above = li.parentElement.closest("[role=treeitem]");
    let covered = false;
    for (let at = above; at; at = at.parentElement.closest("[role=treeitem]")) {
      if (coversBelow(at)) { covered = true; break; }
    }
    li.classList.toggle("covered", covered);
    const box = li.querySelector(":scope > .node > input[type=checkbox]");
    box.disabled = covered;
    if (covered) box.checked = true;
    else box.checked = li.getAttribute("aria-checked") === "true";
  }
  const chosen = picks();
  const counted = {};
  for (const pick of chosen) {
    const name = pick.kind === "blogpost" ? "blog post" : pick.kind;
    counted[name] = (counted[name] || 0) + 1;
  }
  const withSub = chosen.filter((p) => p.kind === "page" && p.with_children).length;
  const parts = Object.entries(counted).map(([name, n]) => `${n} ${name}${n === 1 ? "" : "s"}`);
  $("#selection-count").textContent = chosen.length
    ? `Will import: ${parts.join(", ")}${withSub ? ` (${withSub} with sub-pages)` : ""}.`
    : "Nothing ticked yet.";
}

function group(nodes, level) {
  const list = document.createElement("ul");
  list.setAttribute("role", "group");
  showNodes(list, nodes, level);
  return list;
}

function markLeaf(li) { // opened, and nothing is under it after all
  li.removeAttribute("aria-expanded");
  li.querySelector(":scope > .node > .twisty").textContent = "·";
  li.querySelector(":scope > .node > .sub")?.remove();
}

async function toggle(li) {
  const expanded = li.getAttribute("aria-expanded");
  if (expanded === null) return;
  const twisty = li.querySelector(":scope > .node > .twisty");
  if (expanded === "true") {
    li.setAttribute("aria-expanded", "false");
    twisty.textContent = "▸";
    return;
  }
  if (!li.querySelector(":scope > ul")) {
    if (li.getAttribute("aria-busy") === "true") return;
    li.setAttribute("aria-busy", "true");
    twisty.textContent = "…";
    try {
      const data = await call("/api/children", {
        credential: $("#credential").value, id: li.dataset.id, kind: li.dataset.kind,
      });
      if (!data.nodes.length) { markLeaf(li); return; }
      li.append(group(data.nodes, Number(li.getAttribute("aria-level")) + 1));
      refreshTicks();
    } catch (error) {
      twisty.textContent = "▸";
      say(error.message, "error", "#tree-message");
      return;
    } finally {
      li.removeAttribute("aria-busy");
    }
  }
  li.setAttribute("aria-expanded", "true");
  twisty.textContent = "▾";
}

function visibleItems() {
  return [...document.querySelectorAll("#tree [role=treeitem]")].filter(
    (li) => !li.parentElement.closest("[role=treeitem][aria-expanded=false]"),
  );
}

function focusItem(li) {
  for (const other of document.querySelectorAll("#tree [role=treeitem]")) other.tabIndex = -1;
  li.tabIndex = 0;
  li.focus();
}

async function onTreeKey(event) {
  const li = event.target.closest("[role=treeitem]");
  if (!li) return;
  const items = visibleItems();
  const at = items.indexOf(li);
  const expanded = li.getAttribute("aria-expanded");
  switch (event.key) {
    case "ArrowDown": if (at < items.length - 1) focusItem(items[at + 1]); break;
    case "ArrowUp": if (at > 0) focusItem(items[at - 1]); break;
    case "Home": focusItem(items[0]); break;
    case "End": focusItem(items[items.length - 1]); break;
    case "ArrowRight":
      if (expanded === "false") await toggle(li);
      else if (expanded === "true") {
        const first = li.querySelector(":scope > ul > [role=treeitem]");
        if (first) focusItem(first);
      }
      break;
    case "ArrowLeft":
      if (expanded === "true") await toggle(li);
      else {
        const parent = li.parentElement.closest("[role=treeitem]");
        if (parent) focusItem(parent);
      }
      break;
    case " ": {
      if (event.shiftKey) { // the sub-pages switch of a ticked page
        const sub = li.querySelector(":scope > .node .with-children");
        if (sub && li.getAttribute("aria-checked") === "true") {
          sub.checked = !sub.checked;
          refreshTicks();
        }
        break;
      }
      const box = li.querySelector(":scope > .node > input[type=checkbox]");
      if (!box.disabled) tick(li, !box.checked);
      break;
    }
    case "Enter": await toggle(li); break;
    default: return;
  }
  event.preventDefault();
}

async function browse() {
  say("");
  const credential = $("#credential").value;
  if (!credential) { say("Add an API token (or sign in with OAuth) first."); return; }
  $("#tree-title").textContent = "Loading…";
  $("#all-spaces").hidden = true;
  try {
    const data = await call("/api/browse", {
      credential, url: $("#url").value, personal: $("#personal").checked, filter: $("#filter").value,
    });
    $("#tree-title").textContent = data.title;
    showNodes($("#tree"), data.nodes, 1);
    $("#all-spaces").hidden = data.all !== "spaces" || !data.nodes.length;
    const first = $("#tree [role=treeitem]");
    if (first) first.tabIndex = 0;
  } catch (error) {
    $("#tree-title").textContent = "Nothing to show.";
    $("#tree").replaceChildren();
    say(error.message);
  }
}

// ---- importing ----------------------------------------------------------------------------

function picks() {
  const chosen = [];
  for (const li of document.querySelectorAll("#tree [role=treeitem][aria-checked=true]")) {
    const covered = li.parentElement.closest("[role=treeitem][aria-checked=true]");
    const whole = covered && (covered.dataset.kind !== "page"
      || covered.querySelector(":scope > .node .with-children")?.checked !== false);
    if (whole) continue; // a ticked space, folder or page with its sub-pages holds it already
    const sub = li.querySelector(":scope > .node .with-children");
    chosen.push({
      kind: li.dataset.kind, id: li.dataset.id, space: li.dataset.space || "",
      with_children: sub ? sub.checked : true,
    });
  }
  return chosen;
}

function target() {
  if (document.querySelector("input[name=target]:checked").value === "h2ogpte") {
    return {
      kind: "h2ogpte", address: $("#h2o-address").value,
      collection: $("#h2o-collection").value, api_key: $("#h2o-key").value,
    };
  }
  return { kind: "local", path: $("#collection").value };
}

async function addSelected() {
  say("", "ok", "#import-message");
  const chosen = picks();
  if (!chosen.length) {
    say("Tick at least one space, folder or page in the tree above first.", "error", "#import-message");
    return;
  }
  const options = {};
  for (const box of document.querySelectorAll("fieldset input[name^=include_]")) {
    options[box.name] = box.checked;
  }
  try {
    const data = await call("/api/import", {
      credential: $("#credential").value, picks: chosen, options, target: target(),
    });
    watching(data.job);
  } catch (error) {
    say(error.message, "error", "#import-message");
  }
}

function watching(job) {
  $("#progress").hidden = false;
  $("#progress-bar").hidden = false;
  $("#progress-bar").removeAttribute("value");
  $("#cancel").hidden = false;
  $("#cancel").dataset.job = job;
  $("#summary").replaceChildren();
  $("#problems").replaceChildren();
  $("#add").disabled = true;
  watch(job);
}

async function cancelImport() {
  const job = $("#cancel").dataset.job;
  if (!job) return;
  $("#cancel").disabled = true;
  try {
    await call(`/api/jobs/${job}/cancel`, {});
    $("#progress-line").textContent = "Cancelling: stopping before the next page is written…";
  } catch (error) {
    say(error.message, "error", "#import-message");
  }
}

async function watch(job) {
  let state;
  try {
    state = await call(`/api/jobs/${job}`);
  } catch (error) {
    say(error.message, "error", "#import-message");
    $("#add").disabled = false;
    return;
  }
  const running = state.state === "running";
  const removed = state.deleted ? `, ${state.deleted} removed` : "";
  const skipped = state.skipped_count ? `, ${state.skipped_count} skipped` : "";
  $("#progress-line").textContent =
    `${running ? "Importing into" : "Imported into"} ${state.target}: ` +
    `${state.pages} new or changed pages, ${state.unchanged} unchanged${removed}, ` +
    `${state.images} images and files${skipped}, ${state.failed_count} failed`;
  if (running && state.listed) { // a listing came first: the bar knows the total
    $("#progress-bar").max = state.listed;
    $("#progress-bar").value = Math.min(state.listed, state.pages + state.unchanged);
    $("#progress-line").textContent += ` (of ${state.listed} listed)`;
  }
  if (running) { setTimeout(() => watch(job), 400); return; }
  $("#add").disabled = false;
  $("#cancel").hidden = true;
  $("#cancel").disabled = false;
  $("#progress-bar").hidden = true;
  if (state.state === "cancelled") {
    say("Cancelled: the pages written so far are kept; Add selected again continues.", "ok", "#import-message");
    return;
  }
  if (state.state === "failed") { say(state.error, "error", "#import-message"); return; }
  say("Done.", "ok", "#import-message");
  const names = {
    added: "new pages", updated: "changed pages", unchanged: "unchanged pages",
    deleted: "pages removed", images: "images", files: "attached files",
    kept: "images and files unchanged", skipped: "skipped", failed: "failed",
  };
  $("#summary").replaceChildren(...Object.entries(names).flatMap(([key, name]) => {
    const term = document.createElement("dt");
    term.textContent = name;
    const value = document.createElement("dd");
    value.textContent = String(state.counts[key] ?? 0);
    return [term, value];
  }));
  $("#problems").replaceChildren(...[...state.failures, ...state.skipped].map((text) => {
    const li = document.createElement("li");
    li.textContent = text;
    return li;
  }));
}

// ---- search -------------------------------------------------------------------------------

async function search(event) {
  event.preventDefault();
  say("", "ok", "#search-message");
  $("#hits").replaceChildren();
  try {
    const query = encodeURIComponent($("#query").value);
    const path = encodeURIComponent($("#collection").value);
    const data = await call(`/api/search?q=${query}&path=${path}`);
    $("#hits").replaceChildren(...data.hits.map((hit) => {
      const li = document.createElement("li");
      const link = document.createElement("a");
      link.href = hit.url;
      link.textContent = hit.title;
      link.rel = "noreferrer";
      link.target = "_blank";
      const where = document.createElement("div");
      where.className = "path";
      where.textContent = hit.path;
      const snippet = document.createElement("div");
      snippet.className = "snippet";
      snippet.textContent = hit.snippet.replace(/\s+/g, " ");
      li.append(link, where, snippet);
      return li;
    }));
    if (!data.hits.length) say("No page matches.", "ok", "#search-message");
    else if (data.more) {
      say(`The ${data.hits.length} best matches; more words narrow them.`, "ok", "#search-message");
    }
  } catch (error) {
    say(error.message, "error", "#search-message");
  }
}

function tickEverySpace() {
  for (const li of document.querySelectorAll("#tree > [role=treeitem][data-kind=space]")) tick(li, true);
}

document.addEventListener("DOMContentLoaded", async () => {
  $("#token-form").addEventListener("submit", addToken);
  $("#oauth-form").addEventListener("submit", signIn);
  $("#browse").addEventListener("click", browse);
  $("#url").addEventListener("keydown", (e) => { if (e.key === "Enter") browse(); });
  $("#tree").addEventListener("keydown", onTreeKey);
  $("#add").addEventListener("click", addSelected);
  $("#cancel").addEventListener("click", cancelImport);
  $("#all-spaces").addEventListener("click", tickEverySpace);
  $("#delete-credential").addEventListener("click", deleteCredential);
  $("#search-form").addEventListener("submit", search);
  try {
    showCredentials((await call("/api/credentials")).credentials);
    const { running } = await call("/api/jobs"); // a reload picks a running import up again
    if (running.length) watching(running[running.length - 1].job);
  } catch (error) {
    say(error.message);
  }
});
