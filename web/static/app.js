// @ts-check
// The dashboard: one page per path, rendered from the coordinator's API and kept current by its events.

import { api } from "./api.js";
import { announce, h, main, problem } from "./dom.js";
import { isAddress } from "./format.js";
import { overview } from "./page-overview.js";
import { taskPage } from "./page-task.js";
import { workerPage } from "./page-worker.js";
import { renderWallet, setAccount, state } from "./session.js";
import * as wallet from "./wallet.js";

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
