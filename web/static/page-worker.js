// @ts-check
// A worker's page: its tasks, earnings and claims.

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

export async function workerPage(address) {
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

export function earningsTable(address, summaries, tasks) {
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

export async function claim(button, taskId, address, token) {
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
