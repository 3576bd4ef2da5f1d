// @ts-check
// A task's page: its chart, round timeline, workers and slashes.

import { api } from "./api.js";
import { metricsChart, sparkline } from "./chart.js";
import { announce, badge, code, h, main, num, problem, replace, table, workerLink } from "./dom.js";
import {
  dateTime, describeAccess, describeEvidence, fixed, formatToken, isAddress, parseUnits, percent, reasonLabel,
  shortCid, shortHex, tokenOf,
} from "./format.js";
import { live, liveSection } from "./live.js";
import { setAccount, state } from "./session.js";
import * as wallet from "./wallet.js";

export async function taskPage(id) {
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
      replace("task-summary", h("div", {}, task.fault ? faultNotice(task.fault) : null, taskSummary(task, token)));
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

/** Why the coordinator cannot take the task further, and when it tries again. */
export function faultNotice(fault) {
  return h("div", { class: "fault", role: "status" },
    h("p", {}, h("strong", {}, "The coordinator cannot take this task further. "),
      `${fault.failures} attempt${fault.failures === 1 ? "" : "s"} since ${dateTime(fault.first_failed_at_ms)}; next try at ${dateTime(fault.retry_at_ms)}. Its other tasks go on.`),
    h("p", { class: "error" }, fault.message));
}

export function taskSummary(task, token) {
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
    item("Initial model", code(task.initial_model_cid, shortCid(task.initial_model_cid))),
    ...accessItems(task, item));
}

/** The task's confidentiality and differential privacy, as its access policy on chain says. */
function accessItems(task, item) {
  const [artefacts, privacy] = describeAccess(task.access, task.num_rounds);
  const items = [item("Artefacts", h("span", { "data-access": task.access ? "sealed" : "public" }, artefacts))];
  if (privacy) items.push(item("Differential privacy", privacy));
  return items.flat();
}

export function txCell(transactions, kind) {
  const tx = transactions.find((t) => t.kind === kind);
  if (!tx) return "–";
  return h("span", { class: "tx" }, tx.tx_hash ? code(tx.tx_hash, shortHex(tx.tx_hash)) : "not sent", " ", badge(tx.state));
}

export function roundsTable(rounds) {
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

export function workersTable(workers, token) {
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

export function slashesTable(workers, token) {
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
