// An injected EIP-1193 wallet (window.ethereum), when there is one. Every signature happens in the wallet; the
// page only hands it calls the coordinator prepared.

// The first wallet that announced itself (EIP-6963), for pages where several wallets coexist or none sets
// window.ethereum.
let announced = null;

/** The injected provider, or null: without one the dashboard is read-only. */
export function provider() {
  if (typeof window === "undefined") return null;
  if (window.ethereum && typeof window.ethereum.request === "function") return window.ethereum;
  return announced;
}

/** Calls `ready()` once, when a wallet appears after the page loaded (late injection or an announcement). */
export function whenAvailable(ready) {
  if (typeof window === "undefined") return;
  let done = Boolean(provider());
  const found = () => {
    if (!done && provider()) {
      done = true;
      ready();
    }
  };
  window.addEventListener("ethereum#initialized", found, { once: true });
  window.addEventListener("eip6963:announceProvider", (event) => {
    if (!announced && typeof event.detail?.provider?.request === "function") announced = event.detail.provider;
    found();
  });
  window.dispatchEvent(new Event("eip6963:requestProvider"));
}

/** Asks the wallet for an account; returns it, lowercase. */
export async function connect() {
  const wallet = provider();
  if (!wallet) throw new Error("No wallet found: install a wallet extension to sign transactions.");
  const accounts = await wallet.request({ method: "eth_requestAccounts" });
  if (!accounts?.length) throw new Error("The wallet shared no account.");
  return accounts[0].toLowerCase();
}

/** The account the wallet already shares with this page, without prompting; null when none. */
export async function currentAccount() {
  const wallet = provider();
  if (!wallet) return null;
  const accounts = await wallet.request({ method: "eth_accounts" });
  return accounts?.length ? accounts[0].toLowerCase() : null;
}

/** Calls `listener(account)` when the wallet's account changes. */
export function onAccountChange(listener) {
  provider()?.on?.("accountsChanged", (accounts) => listener(accounts?.length ? accounts[0].toLowerCase() : null));
}

/** Makes sure the wallet is on `chainId` (a number), asking it to switch when not. */
export async function ensureChain(chainId) {
  const wallet = provider();
  const current = Number.parseInt(await wallet.request({ method: "eth_chainId" }), 16);
  if (current === chainId) return;
  try {
    await wallet.request({ method: "wallet_switchEthereumChain", params: [{ chainId: `0x${chainId.toString(16)}` }] });
  } catch (error) {
    throw new Error(`The wallet is on chain ${current}; this marketplace is on chain ${chainId}. Switch networks and try again. (${error.message ?? error})`);
  }
}

/** The ERC-20 `decimals()` of `token`, read through the wallet's node. */
export async function tokenDecimals(token) {
  const result = await provider().request({ method: "eth_call", params: [{ to: token, data: "0x313ce567" }, "latest"] });
  const decimals = Number.parseInt(result, 16);
  if (!Number.isInteger(decimals) || decimals > 77) throw new Error(`${token} does not report ERC-20 decimals`);
  return decimals;
}

/** Sends an unsigned call from `from` and waits for it to be mined; throws when it reverts. */
export async function sendAndWait(from, call, { pollMs = 1000, timeoutMs = 180000 } = {}) {
  const wallet = provider();
  const hash = await wallet.request({ method: "eth_sendTransaction", params: [{ from, to: call.to, data: call.data }] });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const receipt = await wallet.request({ method: "eth_getTransactionReceipt", params: [hash] });
    if (receipt) {
      if (receipt.status !== "0x1") throw new Error(`Transaction ${hash} reverted.`);
      return hash;
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  throw new Error(`Transaction ${hash} was not mined within ${timeoutMs / 1000} s; it may still be.`);
}
