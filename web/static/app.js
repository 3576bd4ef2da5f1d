// The dashboard: one page per path, rendered from the coordinator's API and kept current by its events.

import { api, follow } from "./api.js";
import { metricsChart, sparkline } from "./chart.js";
import {
  dateTime, describeEvidence, fixed, formatToken, isAddress, parseUnits, percent, reasonLabel,
  shortCid, shortHex, tokenOf,
} from "./format.js";
import * as wallet from "./wallet.js";

// ---- DOM helpers: text goes in as text, never as markup (names and symbols come from the chain).

function h(tag, attributes = {}, ...children) {
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

const main = () => document.getElementById("main");
const announce = (text) => {
  document.getElementById("announcer").textContent = text;
};

function table({ id, caption, columns, rows, empty }) {
  const head = h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.numeric ? "num" : undefined }, c.label))));
  const body = h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: columns.length, class: "empty" }, empty)));
  return h("div", { class: "table-scroll", tabindex: 0, role: "region", "aria-labelledby": `${id}-caption` },
    h("table", { id }, h("caption", { id: `${id}-caption` }, caption), head, body));
}

const num = (text) => h("td", { class: "num" }, text);
const code = (full, short) => h("code", { title: full }, short ?? full);
const badge = (text, kind = text) => h("span", { class: `badge badge-${kind}` }, text);
const workerLink = (address) => h("a", { href: `/workers/${address}`, title: address }, shortHex(address));

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
function replace(id, content) {
  const target = document.getElementById(id);
  if (!target) return;
  const active = document.activeElement;
  const key = active && active !== document.body && target.contains(active) ? focusKey(active) : null;
  target.replaceChildren(content);
  if (key) target.querySelector(key)?.focus();
}

function problem(error) {
  return h("p", { class: "error", role: "alert" }, error.message ?? String(error));
}

// ---- Wallet state, shared by every page.

const state = { account: null, info: null, listeners: new Set(), pendingClaims: new Map() };

function setAccount(account) {
  state.account = account;
  renderWallet();
  for (const listener of state.listeners) listener(account);
}

function renderWallet() {
  const slot = document.getElementById("wallet");
  if (!wallet.provider()) {
    slot.replaceChildren(h("span", { class: "read-only", title: "Install a wallet extension to create tasks and claim rewards" }, "Read-only: no wallet"));
    return;
  }
  if (state.account) {
    slot.replaceChildren(h("span", {}, "Wallet: "), workerLink(state.account));
    return;
  }
  slot.replaceChildren(h("button", {
    type: "button",
    id: "connect-wallet",
    onclick: async () => {
      try {
        setAccount(await wallet.connect());
        document.querySelector("#wallet a")?.focus();
      } catch (error) {
        announce(error.message);
      }
    },
  }, "Connect wallet"));
}

// ---- Live updates: each page says which events concern it and how to refresh.

let liveLog = [];

/**
 * Runs `refresh` after events, at most one at a time: events that arrive while one runs schedule one more, so
 * an older answer never lands after a newer one. Bursts are gathered for 250 ms, but never held back more than
 * a second.
 */
function coalesced(refresh) {
  let timer = null;
  let firstPending = 0;
  let running = false;
  let again = false;
  const run = async () => {
    timer = null;
    firstPending = 0;
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      await refresh();
      document.body.dataset.liveUpdates = String(Number(document.body.dataset.liveUpdates ?? 0) + 1);
    } finally {
      running = false;
      if (again) {
        again = false;
        schedule();
      }
    }
  };
  const schedule = () => {
    const now = Date.now();
    firstPending ||= now;
    clearTimeout(timer);
    timer = setTimeout(run, Math.max(0, Math.min(250, firstPending + 1000 - now)));
  };
  return schedule;
}

function live(concerns, refresh) {
  const schedule = coalesced(refresh);
  let connectedBefore = false;
  follow((event) => {
    if (event.kind === "lagged" || concerns(event)) {
      liveLog = [event, ...liveLog].slice(0, 12);
      renderLiveLog();
      schedule();
    }
  }, (open) => {
    document.body.dataset.live = open ? "open" : "closed";
    const status = document.getElementById("live-status");
    if (status) status.textContent = open ? "Live" : "Reconnecting…";
    // Events sent while the stream was down are gone: reload once it is back.
    if (open && connectedBefore) schedule();
    if (open) connectedBefore = true;
  });
}

function describeEvent(event) {
  switch (event.kind) {
    case "round": return `Task ${event.task_id}: round ${event.round} ${event.state}`;
    case "submission": return `Task ${event.task_id}: round ${event.round} update from ${shortHex(event.worker)}`;
    case "task": return `Task ${event.task_id} ${event.state}`;
    case "chain": return `Task ${event.task_id}: ${event.state}${event.worker ? ` (${shortHex(event.worker)})` : ""}`;
    default: return "Some events were missed; the page reloaded its data";
  }
}

function renderLiveLog() {
  const list = document.getElementById("live-log");
  if (!list) return;
  list.replaceChildren(...liveLog.map((event) => h("li", {}, h("time", {}, dateTime(event.at_ms ?? Date.now()).slice(11, 19)), " ", describeEvent(event))));
  // Screen readers hear what changes a round or a task, not every submission.
  if (liveLog[0] && (liveLog[0].kind === "round" || liveLog[0].kind === "task")) announce(describeEvent(liveLog[0]));
}

function liveSection() {
  return h("section", { "aria-labelledby": "live-heading", class: "live" },
    h("h2", { id: "live-heading" }, "Live activity ", h("span", { id: "live-status", class: "live-status" }, "Connecting…")),
    h("ol", { id: "live-log", reversed: true }));
}

// ---- Overview.

async function overview() {
  document.title = "Tasks · Tessera";
  const form = createTaskForm();
  main().replaceChildren(
    h("h1", {}, "Tasks"),
    h("div", { id: "tasks" }, h("p", { class: "loading" }, "Loading tasks…")),
    form,
    liveSection(),
  );
  const refresh = async () => {
    try {
      const tasks = await api.tasks();
      replace("tasks", tasksTable(tasks));
      const token = document.getElementById("draft-token");
      // Offer the token of this coordinator's latest task: anyone may create tasks with any token on chain.
      const ours = tasks.filter((t) => t.coordinator === state.info.coordinator);
      if (token && !token.value && ours.length) token.value = ours[ours.length - 1].reward_token;
    } catch (error) {
      replace("tasks", problem(error));
    }
  };
  await refresh();
  live(() => true, refresh);
}

function tasksTable(tasks) {
  const rows = [...tasks].reverse().map((task) => {
    const token = tokenOf(task);
    return h("tr", { "data-task": task.task_id },
      h("th", { scope: "row" }, h("a", { href: `/tasks/${task.task_id}` }, `Task ${task.task_id}`)),
      h("td", {}, badge(task.status)),
      num(`${task.current_round} / ${task.num_rounds}`),
      num(formatToken(task.reward_pool, token)),
      num(formatToken(task.stake_required, token)),
      num(`${task.active_workers} active / ${task.max_workers} max`),
      h("td", {}, task.coordinator === state.info.coordinator ? "this one" : code(task.coordinator, shortHex(task.coordinator))),
      h("td", {}, dateTime(task.created_at_ms)));
  });
  return table({
    id: "tasks-table",
    caption: "Every task this coordinator knows, newest first",
    columns: [{ label: "Task" }, { label: "Status" }, { label: "Round", numeric: true }, { label: "Reward pool", numeric: true },
      { label: "Stake", numeric: true }, { label: "Workers", numeric: true }, { label: "Coordinator" }, { label: "Created" }],
    rows,
    empty: "No tasks yet.",
  });
}

function field(id, label, attributes, hint) {
  return h("div", { class: "field" },
    h("label", { for: id }, label),
    h("input", { id, name: id, ...attributes, "aria-describedby": hint ? `${id}-hint` : undefined }),
    hint ? h("p", { id: `${id}-hint`, class: "hint" }, hint) : null);
}

function createTaskForm() {
  const section = h("section", { "aria-labelledby": "create-heading", class: "panel" }, h("h2", { id: "create-heading" }, "Create a task"));
  if (!wallet.provider()) {
    section.append(h("p", {}, "No wallet was found, so this dashboard is read-only. With a wallet extension you can post a task here: your wallet signs the approval and the task, and this coordinator runs it."));
    return section;
  }
  const status = h("p", { id: "draft-status", class: "status", role: "status", "aria-live": "polite" });
  const form = h("form", { id: "create-task", novalidate: true },
    field("draft-token", "Reward token (ERC-20 address)", { type: "text", required: true, pattern: "0x[0-9a-fA-F]{40}", autocomplete: "off", spellcheck: "false" }),
    field("draft-pool", "Reward pool, in tokens", { type: "text", inputmode: "decimal", required: true, value: "1000" }),
    field("draft-stake", "Stake per worker, in tokens", { type: "text", inputmode: "decimal", required: true, value: "100" }),
    field("draft-rounds", "Rounds", { type: "number", min: 1, max: 10000, required: true, value: 5 }),
    field("draft-workers", "Most workers", { type: "number", min: 1, required: true, value: 10 }),
    field("draft-window", "Submission window, seconds", { type: "number", min: 1, required: true, value: 300 }, "How long each round accepts updates."),
    field("draft-seed", "Initial weights seed", { type: "number", min: 0, required: true, value: 0 }),
    h("div", { class: "field checkbox" },
      h("input", { id: "draft-slash", name: "draft-slash", type: "checkbox" }),
      h("label", { for: "draft-slash" }, "Slashed stake goes to me rather than back into the pool")),
    h("p", { class: "hint" }, "Model: LeNet-5 on MNIST. Your wallet will ask you to sign two transactions: approving the pool, then creating the task."),
    h("button", { type: "submit" }, "Create task"),
    status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      await createTask(status);
    } catch (error) {
      status.textContent = error.message ?? String(error);
      status.className = "status error";
    } finally {
      button.disabled = false;
    }
  });
  section.append(form);
  return section;
}

async function createTask(status) {
  const value = (id) => document.getElementById(id).value.trim();
  const say = (text) => {
    status.textContent = text;
    status.className = "status";
  };
  const token = value("draft-token");
  if (!isAddress(token)) throw new Error("The reward token must be a 0x address of 40 hex digits.");
  const account = state.account ?? (await wallet.connect());
  if (account !== state.account) setAccount(account);
  await wallet.ensureChain(state.info.chain_id);
  const decimals = await wallet.tokenDecimals(token);
  const draft = await api.draftTask({
    reward_token: token,
    reward_pool: parseUnits(value("draft-pool"), decimals),
    stake_required: parseUnits(value("draft-stake"), decimals),
    num_rounds: Number(value("draft-rounds")),
    max_workers: Number(value("draft-workers")),
    submission_window_secs: Number(value("draft-window")),
    seed: Number(value("draft-seed")),
    slash_to_requester: document.getElementById("draft-slash").checked,
  });
  let last = null;
  for (const [i, call] of draft.transactions.entries()) {
    say(`Step ${i + 1} of ${draft.transactions.length}: ${call.description}. Confirm in your wallet…`);
    last = await wallet.sendAndWait(account, call);
  }
  say(`Task created (transaction ${shortHex(last, 6)}); it appears in the list once the coordinator indexes it.`);
  status.dataset.tx = last;
}

// ---- Task detail.

async function taskPage(id) {
  document.title = `Task ${id} · Tessera`;
  main().replaceChildren(
    h("h1", {}, `Task ${id} `, h("span", { id: "task-status" })),
    h("div", { id: "task-summary" }, h("p", { class: "loading" }, "Loading…")),
    h("section", { "aria-labelledby": "chart-heading" },
      h("h2", { id: "chart-heading" }, "Accuracy and loss"),
      h("figure", { id: "chart" }),
      h("p", { class: "legend", "aria-hidden": "true" }, h("span", { class: "key accuracy" }, "Validation accuracy (left axis)"), h("span", { class: "key loss" }, "Validation loss (right axis)"))),
    h("section", { "aria-labelledby": "rounds-heading" }, h("h2", { id: "rounds-heading" }, "Rounds"), h("div", { id: "rounds" })),
    h("section", { "aria-labelledby": "workers-heading" }, h("h2", { id: "workers-heading" }, "Workers"), h("div", { id: "workers" })),
    h("section", { "aria-labelledby": "slashes-heading" }, h("h2", { id: "slashes-heading" }, "Flags and slashes"), h("div", { id: "slashes" })),
    liveSection(),
  );
  const refresh = async () => {
    try {
      const [task, rounds, workers] = await Promise.all([api.task(id), api.rounds(id), api.workers(id)]);
      const token = tokenOf(task);
      replace("task-status", badge(task.status));
      replace("task-summary", taskSummary(task, token));
      const points = rounds
        .filter((r) => r.phase === "finalized" && Number.isFinite(r.metrics?.accuracy) && Number.isFinite(r.metrics?.loss))
        .map((r) => ({ round: r.round, accuracy: r.metrics.accuracy, loss: r.metrics.loss }));
      replace("chart", metricsChart(points));
      replace("rounds", roundsTable(rounds));
      replace("workers", workersTable(workers, token));
      replace("slashes", slashesTable(workers, token));
    } catch (error) {
      replace("task-summary", problem(error));
    }
  };
  await refresh();
  live((event) => event.task_id === id, refresh);
}

function taskSummary(task, token) {
  const item = (term, ...definition) => [h("dt", {}, term), h("dd", {}, ...definition)];
  return h("dl", { class: "summary" },
    item("Round", `${task.current_round} of ${task.num_rounds}`),
    item("Reward pool", formatToken(task.reward_pool, token)),
    item("Stake per worker", formatToken(task.stake_required, token)),
    item("Workers", `${task.active_workers} active, ${task.joined_workers} joined, at most ${task.max_workers}`),
    item("Submission window", `${task.submission_window_secs} s`),
    item("Requester", workerLink(task.requester)),
    item("Coordinator", code(task.coordinator, shortHex(task.coordinator))),
    item("Reward token", `${token.symbol} `, code(task.reward_token, shortHex(task.reward_token))),
    item("Slashed stake goes to", task.config?.slash_to_requester ? "the requester" : "the reward pool"),
    item("Initial model", code(task.initial_model_cid, shortCid(task.initial_model_cid))));
}

function txCell(transactions, kind) {
  const tx = transactions.find((t) => t.kind === kind);
  if (!tx) return "–";
  return h("span", { class: "tx" }, tx.tx_hash ? code(tx.tx_hash, shortHex(tx.tx_hash)) : "not sent", " ", badge(tx.state));
}

function roundsTable(rounds) {
  const rows = rounds.map((round) => h("tr", { "data-round": round.round, "data-phase": round.phase },
    h("th", { scope: "row" }, String(round.round)),
    h("td", {}, badge(round.phase)),
    num(String(round.submission_count)),
    num(percent(round.metrics?.accuracy)),
    num(fixed(round.metrics?.loss, 4)),
    h("td", {}, round.new_model_cid ? code(round.new_model_cid, shortCid(round.new_model_cid)) : "–"),
    h("td", {}, round.manifest_cid ? code(round.manifest_cid, shortCid(round.manifest_cid)) : "–"),
    h("td", {}, txCell(round.transactions ?? [], "start_round")),
    h("td", {}, txCell(round.transactions ?? [], "finalize_round")),
    h("td", {}, round.finalized_at_ms ? dateTime(round.finalized_at_ms) : "–")));
  return table({
    id: "rounds-table",
    caption: "Each round: its checkpoint and manifest on IPFS, and the coordinator's transactions",
    columns: [{ label: "Round" }, { label: "Phase" }, { label: "Updates", numeric: true }, { label: "Accuracy", numeric: true },
      { label: "Loss", numeric: true }, { label: "Checkpoint CID" }, { label: "Manifest CID" }, { label: "Start tx" },
      { label: "Finalize tx" }, { label: "Finalized" }],
    rows: [...rows].reverse(),
    empty: "No round has started: the task waits for workers to join.",
  });
}

function workersTable(workers, token) {
  const rows = workers.map((w) => {
    const last = w.rounds[w.rounds.length - 1];
    const history = w.reputation_history ?? [];
    return h("tr", { "data-worker": w.worker },
      h("th", { scope: "row" }, workerLink(w.worker)),
      h("td", {}, w.status ? badge(w.status) : "–"),
      num(formatToken(w.stake, token)),
      h("td", { class: "num" }, sparkline(history, `Reputation over rounds: ${history.map((v) => fixed(v)).join(", ") || "none yet"}`), " ", fixed(w.reputation)),
      num(last ? fixed(last.score) : "–"),
      num(formatToken(w.rewards, token)),
      num(formatToken(w.claimed, token)),
      num(formatToken(w.slashed, token)));
  });
  return table({
    id: "workers-table",
    caption: "Each worker's stake, reputation over the rounds, latest score, and earnings",
    columns: [{ label: "Worker" }, { label: "Status" }, { label: "Stake", numeric: true }, { label: "Reputation", numeric: true },
      { label: "Latest score", numeric: true }, { label: "Rewards", numeric: true }, { label: "Claimed", numeric: true },
      { label: "Slashed", numeric: true }],
    rows,
    empty: "No worker has joined yet.",
  });
}

function slashesTable(workers, token) {
  const rows = workers
    .flatMap((w) => w.rounds.filter((s) => s.flags.length || BigInt(s.slashed) > 0n).map((s) => ({ worker: w.worker, score: s })))
    .sort((a, b) => a.score.round - b.score.round || a.worker.localeCompare(b.worker))
    .map(({ worker, score }) => h("tr", { "data-round": score.round, "data-worker": worker },
      h("th", { scope: "row" }, String(score.round)),
      h("td", {}, workerLink(worker)),
      h("td", {}, score.flags.map((f) => badge(reasonLabel(f), "flag"))),
      num(formatToken(score.slashed, token)),
      h("td", {}, score.slash_reason ? reasonLabel(score.slash_reason) : "–"),
      h("td", { class: "evidence" }, h("ul", {}, (score.evidence ?? []).map((e) => h("li", {}, `${reasonLabel(e.reason)}: ${describeEvidence(e.evidence)}`))))));
  return table({
    id: "slashes-table",
    caption: "Every flag the scorer raised, with the stake taken and the numbers behind it",
    columns: [{ label: "Round" }, { label: "Worker" }, { label: "Flags" }, { label: "Slashed", numeric: true }, { label: "Reason" }, { label: "Evidence" }],
    rows,
    empty: "No worker has been flagged.",
  });
}

// ---- Worker page.

async function workerPage(address) {
  document.title = `Worker ${shortHex(address)} · Tessera`;
  main().replaceChildren(
    h("h1", {}, "Worker ", code(address, address)),
    h("div", { id: "claim-status", class: "status", role: "status", "aria-live": "polite" }),
    h("div", { id: "earnings" }, h("p", { class: "loading" }, "Loading…")),
    liveSection(),
  );
  const tasks = new Map();
  const joined = new Set();
  const refresh = async () => {
    try {
      const [summaries, all] = await Promise.all([api.account(address), api.tasks()]);
      for (const task of all) tasks.set(task.task_id, task);
      for (const summary of summaries) joined.add(summary.task_id);
      replace("earnings", earningsTable(address, summaries, tasks));
    } catch (error) {
      replace("earnings", problem(error));
    }
  };
  state.listeners.add(() => refresh());
  await refresh();
  live((event) => event.worker === address || joined.has(event.task_id), refresh);
}

function earningsTable(address, summaries, tasks) {
  const rows = summaries.map((s) => {
    const token = tokenOf(tasks.get(s.task_id));
    const claimable = BigInt(s.finalized_rewards) - BigInt(s.claimed);
    const mine = state.account === address;
    // A claim in flight stays pending until the indexer sees the claimed amount grow: a second click would
    // only revert and cost gas.
    const pending = state.pendingClaims.get(s.task_id);
    if (pending !== undefined && BigInt(s.claimed) > pending) state.pendingClaims.delete(s.task_id);
    let action = "–";
    if (state.pendingClaims.has(s.task_id)) {
      action = h("button", { type: "button", disabled: true, "data-claim-pending": s.task_id }, "Claim pending…");
    } else if (claimable > 0n) {
      action = mine
        ? h("button", { type: "button", "data-claim": s.task_id, onclick: (event) => claim(event.currentTarget, s.task_id, address, token) }, `Claim ${formatToken(claimable, token)}`)
        : h("span", { title: "Connect this worker's wallet to claim" }, "Claimable by this worker");
    }
    return h("tr", { "data-task": s.task_id },
      h("th", { scope: "row" }, h("a", { href: `/tasks/${s.task_id}` }, `Task ${s.task_id}`)),
      h("td", {}, s.status ? badge(s.status) : "–"),
      num(formatToken(s.stake, token)),
      num(fixed(s.reputation)),
      num(formatToken(s.rewards, token)),
      num(formatToken(s.claimed, token)),
      h("td", {}, s.last_claim_tx ? code(s.last_claim_tx, shortHex(s.last_claim_tx)) : "–"),
      h("td", { class: "num", "data-claimable": claimable.toString() }, formatToken(claimable > 0n ? claimable : 0n, token)),
      num(formatToken(s.slashed, token)),
      h("td", {}, action));
  });
  return table({
    id: "earnings-table",
    caption: "This worker's tasks: earnings, claims and slashes",
    columns: [{ label: "Task" }, { label: "Status" }, { label: "Stake", numeric: true }, { label: "Reputation", numeric: true },
      { label: "Earned", numeric: true }, { label: "Claimed", numeric: true }, { label: "Last claim tx" }, { label: "To claim", numeric: true },
      { label: "Slashed", numeric: true }, { label: "Action" }],
    rows,
    empty: "This address has not joined any task.",
  });
}

async function claim(button, taskId, address, token) {
  const status = document.getElementById("claim-status");
  button.disabled = true;
  try {
    await wallet.ensureChain(state.info.chain_id);
    const proof = await api.proof(taskId, address);
    state.pendingClaims.set(taskId, BigInt(proof.claimed));
    status.textContent = `Claiming ${formatToken(proof.claimable, token)} from task ${taskId}: confirm in your wallet…`;
    const hash = await wallet.sendAndWait(address, proof.call);
    status.textContent = `Claimed in transaction ${shortHex(hash, 6)}.`;
    status.dataset.tx = hash;
  } catch (error) {
    state.pendingClaims.delete(taskId);
    status.textContent = error.message ?? String(error);
    button.disabled = false;
  }
}

// ---- Start.

function lookup() {
  const form = document.getElementById("lookup");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const input = document.getElementById("lookup-address");
    const address = input.value.trim();
    if (!isAddress(address)) {
      input.setAttribute("aria-invalid", "true");
      announce("Enter a 0x address of 40 hex digits.");
      return;
    }
    window.location.assign(`/workers/${address.toLowerCase()}`);
  });
}

async function start() {
  lookup();
  renderWallet();
  try {
    state.info = await api.info();
  } catch (error) {
    main().replaceChildren(problem(error));
    return;
  }
  // Some wallets inject their provider after the page's scripts run, or only announce it (EIP-6963).
  wallet.whenAvailable(() => {
    renderWallet();
    wallet.onAccountChange(setAccount);
  });
  if (wallet.provider()) {
    wallet.onAccountChange(setAccount);
    const account = await wallet.currentAccount().catch(() => null);
    if (account) setAccount(account);
  }
  const path = window.location.pathname;
  const task = /^\/tasks\/(\d+)\/?$/.exec(path);
  const worker = /^\/workers\/(0x[0-9a-fA-F]{40})\/?$/.exec(path);
  if (path === "/") await overview();
  else if (task) await taskPage(Number(task[1]));
  else if (worker) await workerPage(worker[1].toLowerCase());
  else main().replaceChildren(h("h1", {}, "Not found"), h("p", {}, "There is no page here. ", h("a", { href: "/" }, "See the tasks.")));
  document.body.dataset.ready = "true";
}

start();
