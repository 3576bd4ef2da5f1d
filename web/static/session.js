// @ts-check
// The wallet state every page shares: the connected account, the coordinator's info, claims in flight.

import { announce, h, workerLink } from "./dom.js";
import * as wallet from "./wallet.js";

export const state = { account: null, info: null, listeners: new Set(), pendingClaims: new Map() };

export function setAccount(account) {
  state.account = account;
  renderWallet();
  for (const listener of state.listeners) listener(account);
}

export function renderWallet() {
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
