// @ts-check
// The overview page: the tasks, and a form that creates one with a wallet.

import { api } from "./api.js";
import { metricsChart, sparkline } from "./chart.js";
import { announce, badge, code, h, main, num, problem, replace, table, workerLink } from "./dom.js";
import {
  dateTime, describeEvidence, fixed, formatToken, isAddress, parseUnits, percent, reasonLabel,
  shortCid, shortHex, tokenOf,
} from "./format.js";
import { live, liveSection } from "./live.js";
import { setAccount, state } from "./session.js";
import * as wallet from "./wallet.js";

export async function overview() {
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
