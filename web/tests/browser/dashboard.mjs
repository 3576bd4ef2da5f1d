// The dashboard in headless Chromium against a coordinator running the demo's scenario: `tests/dashboard.rs`
// starts the stack and runs this script while the rounds run. Exits non-zero on the first failed check.
//
// Env: TESSERA_URL (the coordinator), TESSERA_RPC (the chain node), TESSERA_TASK, TESSERA_WORKER (an honest
// worker, which claims through the dashboard mid-task), TESSERA_CREATOR (an account with tokens, which creates a
// task through the dashboard), TESSERA_ARTIFACTS (where screenshots go), CHROMIUM (the browser; default
// /usr/bin/chromium), TESSERA_TIMEOUT_SECS (default 900).

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};
const base = env("TESSERA_URL");
const rpcUrl = env("TESSERA_RPC");
const taskId = Number(env("TESSERA_TASK"));
const worker = env("TESSERA_WORKER").toLowerCase();
const creator = env("TESSERA_CREATOR").toLowerCase();
const artifacts = env("TESSERA_ARTIFACTS");
const deadline = Date.now() + 1000 * Number(env("TESSERA_TIMEOUT_SECS", "900"));
mkdirSync(artifacts, { recursive: true });

const log = (line) => console.log(`[dashboard ${new Date().toISOString().slice(11, 19)}] ${line}`);
function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
  log(`ok: ${message}`);
}
const remaining = () => Math.max(1000, deadline - Date.now());
const api = async (path) => {
  const response = await fetch(base + path);
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
};
async function until(what, probe, everyMs = 500) {
  while (Date.now() < deadline) {
    const value = await probe();
    if (value) return value;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}
async function rpc(method, params) {
  const response = await fetch(rpcUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params: params ?? [] }),
  });
  const body = await response.json();
  if (body.error) throw new Error(body.error.message ?? JSON.stringify(body.error));
  return body.result;
}

// Everything the browser says that looks like a fault, from every page.
const faults = [];
function watch(page, name) {
  page.on("console", (message) => {
    if (message.type() === "error") faults.push(`${name}: console error: ${message.text()}`);
  });
  page.on("pageerror", (error) => faults.push(`${name}: uncaught: ${error.message}`));
  page.on("requestfailed", (request) => {
    // An aborted request is the browser's own doing, never the server's: leaving a page cuts what it still had in
    // flight (its event stream, a live refresh, one started while the next page was already loading). A server
    // fault shows as a refused connection or an error status, which are still faults.
    if (request.failure()?.errorText === "net::ERR_ABORTED") return;
    faults.push(`${name}: request failed: ${request.url()} ${request.failure()?.errorText}`);
  });
  page.on("response", (response) => {
    if (response.status() >= 400) faults.push(`${name}: HTTP ${response.status()} for ${response.url()}`);
  });
}

// An EIP-1193 wallet for `account`: the page asks it as it would a browser extension; it forwards to the
// chain node, whose development accounts sign.
async function walletContext(browser, account, options = {}) {
  const context = await browser.newContext(options);
  await context.exposeFunction("__tesseraWalletRpc", (method, params) => rpc(method, params));
  await context.addInitScript((address) => {
    const listeners = {};
    // Like an extension, it shares the account only once the page has asked (eth_requestAccounts).
    let shared = false;
    window.ethereum = {
      isTesseraTestWallet: true,
      async request({ method, params }) {
        if (method === "eth_accounts") return shared ? [address] : [];
        if (method === "eth_requestAccounts") {
          shared = true;
          for (const listener of listeners.accountsChanged ?? []) setTimeout(() => listener([address]));
          return [address];
        }
        if (method === "eth_sendTransaction" && params[0].from.toLowerCase() !== address) throw new Error("wrong sender");
        return window.__tesseraWalletRpc(method, params ?? []);
      },
      on(event, listener) {
        (listeners[event] ??= []).push(listener);
      },
    };
  }, account);
  return context;
}

async function open(page, path) {
  await page.goto(base + path);
  await page.waitForSelector("body[data-ready=true]", { timeout: 30000 });
}
async function shot(page, name) {
  const path = join(artifacts, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  log(`screenshot ${path}`);
}
// Run on a freshly loaded page: the Tab check starts from the top of the document.
async function accessible(page, name) {
  const report = await page.evaluate(() => ({
    h1: document.querySelectorAll("h1").length,
    unlabelled: [...document.querySelectorAll("input, select, textarea")].filter((e) => e.type !== "hidden" && !e.labels?.length).map((e) => e.id || e.name),
    unnamedButtons: [...document.querySelectorAll("button")].filter((b) => !b.textContent.trim() && !b.getAttribute("aria-label")).length,
    headerless: [...document.querySelectorAll("table")].filter((t) => !t.querySelector("th[scope=col]") || !t.caption).length,
    lang: document.documentElement.lang,
    overflow: document.documentElement.scrollWidth - window.innerWidth,
  }));
  check(report.h1 === 1 && report.lang === "en", `${name}: one h1 and a page language`);
  check(report.unlabelled.length === 0, `${name}: every input has a label (${report.unlabelled.join(", ") || "none missing"})`);
  check(report.unnamedButtons === 0 && report.headerless === 0, `${name}: buttons are named, tables have captions and column headers`);
  check(report.overflow <= 1, `${name}: nothing overflows the viewport sideways (${report.overflow}px)`);
  await page.keyboard.press("Tab");
  const first = await page.evaluate(() => document.activeElement?.className);
  check(first === "skip-link", `${name}: the first Tab reaches the skip link`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  // Sandboxing needs user namespaces, which containers and CI runners as root often lack.
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
try {
  // 1. Read-only, while the first round runs: the task page updates itself when the round is finalized.
  const readOnly = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const live = await readOnly.newPage();
  watch(live, "task (live)");
  let navigations = 0;
  live.on("framenavigated", (frame) => {
    if (frame === live.mainFrame()) navigations += 1;
  });
  await open(live, `/tasks/${taskId}`);
  const finalizedAtLoad = await live.locator("#rounds-table tr[data-phase=finalized]").count();
  const numRounds = (await api(`/api/v1/tasks/${taskId}`)).num_rounds;
  check(finalizedAtLoad < numRounds, `the task page opened with ${finalizedAtLoad} of ${numRounds} rounds finalized`);
  check(await live.locator("#wallet").textContent().then((t) => t.includes("Read-only")), "without a wallet the dashboard says it is read-only");
  await live.evaluate(() => {
    window.__loadedOnce = true;
  });
  await live.waitForFunction((count) => document.querySelectorAll("#rounds-table tr[data-phase=finalized]").length > count,
    finalizedAtLoad, { timeout: remaining() });
  await live.waitForFunction((count) => document.querySelectorAll("#metrics-chart circle.point.accuracy").length > count,
    finalizedAtLoad, { timeout: 30000 });
  check(await live.evaluate(() => window.__loadedOnce === true) && navigations === 1,
    `round ${finalizedAtLoad + 1} appeared finalized, in the timeline and the chart, without a reload`);
  check(Number(await live.evaluate(() => document.body.dataset.liveUpdates ?? 0)) >= 1, "the page refreshed from server-sent events");
  check((await live.locator("#live-log li").count()) >= 1, "the live activity list shows events");

  // 2. A worker claims through the dashboard with its wallet, mid-task.
  const workerContext = await walletContext(browser, worker, { viewport: { width: 1280, height: 900 } });
  const workerPage = await workerContext.newPage();
  watch(workerPage, "worker");
  await open(workerPage, `/workers/${worker}`);
  check((await workerPage.locator("button[data-claim]").count()) === 0, "before the wallet is connected, nothing offers to claim");
  await workerPage.locator("#connect-wallet").click();
  const claimButton = workerPage.locator(`button[data-claim="${taskId}"]`);
  await claimButton.waitFor({ timeout: 60000 });
  const claimable = BigInt(await workerPage.locator(`tr[data-task="${taskId}"] td[data-claimable]`).getAttribute("data-claimable"));
  check(claimable > 0n, `the worker sees ${claimable} base units to claim`);
  let claimedTx = null;
  for (let attempt = 1; attempt <= 3 && !claimedTx; attempt += 1) {
    // A round finalized between reading the proof and sending it moves the root: the claim reverts, and a
    // person would click again.
    if (attempt > 1) await claimButton.waitFor({ timeout: 60000 });
    await claimButton.click();
    await workerPage.waitForFunction(() => {
      const status = document.getElementById("claim-status");
      return status.dataset.tx || /reverted|failed|error/i.test(status.textContent);
    }, null, { timeout: 120000 });
    claimedTx = await workerPage.locator("#claim-status").getAttribute("data-tx");
    if (!claimedTx) log(`claim attempt ${attempt}: ${await workerPage.locator("#claim-status").textContent()}`);
  }
  check(Boolean(claimedTx), `the claim was sent and mined (${claimedTx})`);
  const claimed = await until("the claim to be indexed", async () => {
    const summary = (await api(`/api/v1/accounts/${worker}`)).find((s) => s.task_id === taskId);
    return BigInt(summary.claimed) > 0n && summary;
  });
  // The demo's own claims at the end may already have followed; either transaction is this worker's.
  await workerPage.waitForFunction((task) => {
    const cells = document.querySelectorAll(`tr[data-task="${task}"] td`);
    return cells.length > 5 && !cells[4].textContent.startsWith("0.00") && /^0x[0-9a-f]{64}$/.test(cells[5].querySelector("code")?.title ?? "");
  }, taskId, { timeout: 60000 });
  check(true, `the worker page shows the claim and its transaction without a reload (${claimed.claimed} base units claimed)`);

  // 3. After the last round: every page shows the finished task.
  await until("the task to end", async () => (await api(`/api/v1/tasks/${taskId}`)).status === "ended", 1000);
  const rounds = await api(`/api/v1/tasks/${taskId}/rounds`);
  const workers = await api(`/api/v1/tasks/${taskId}/workers`);
  const task = await api(`/api/v1/tasks/${taskId}`);
  const detail = await readOnly.newPage();
  watch(detail, "task");
  await open(detail, `/tasks/${taskId}`);
  check((await detail.locator("#metrics-chart circle.point.accuracy").count()) === rounds.length && rounds.length === task.num_rounds,
    `the chart has one accuracy point per round (${rounds.length})`);
  check((await detail.locator("#metrics-chart circle.point.loss").count()) === rounds.length, "and one loss point per round");
  for (const round of rounds) {
    const row = detail.locator(`#rounds-table tr[data-round="${round.round}"]`);
    const text = await row.textContent();
    check(text.includes(`${(100 * round.metrics.accuracy).toFixed(2)}%`), `round ${round.round}: the timeline shows accuracy ${(100 * round.metrics.accuracy).toFixed(2)}%`);
    const finalize = round.transactions.find((t) => t.kind === "finalize_round");
    const titles = await row.locator("code").evaluateAll((codes) => codes.map((c) => c.title));
    check(titles.includes(round.manifest_cid) && titles.includes(round.new_model_cid) && titles.includes(finalize.tx_hash),
      `round ${round.round}: the timeline carries the checkpoint and manifest CIDs and the finalize transaction`);
  }
  check((await detail.locator("#workers-table tbody tr[data-worker]").count()) === workers.length, `the worker table lists all ${workers.length} workers`);
  const slashed = workers.filter((w) => BigInt(w.slashed) > 0n);
  check(slashed.length >= 2, `the demo's cheats were slashed (${slashed.length} workers)`);
  for (const w of slashed) {
    const evidence = await detail.locator(`#slashes-table tr[data-worker="${w.worker}"] td.evidence li`).allTextContents();
    check(evidence.length > 0 && evidence.every((e) => /\d/.test(e)), `${w.worker}: the slash shows its reason and the numbers behind it`);
  }
  const paint = await detail.evaluate(() => ({
    firstContentfulPaint: performance.getEntriesByName("first-contentful-paint")[0]?.startTime,
    domContentLoaded: performance.getEntriesByType("navigation")[0]?.domContentLoadedEventEnd,
    assetBytes: performance.getEntriesByType("resource").filter((r) => r.name.includes("/assets/")).reduce((sum, r) => sum + r.encodedBodySize, 0),
  }));
  log(`task page: first contentful paint ${paint.firstContentfulPaint?.toFixed(0)} ms, DOMContentLoaded ${paint.domContentLoaded?.toFixed(0)} ms, ${paint.assetBytes} bytes of assets`);
  await accessible(detail, "task");
  await shot(detail, "task");

  // 4. The worker page and the overview, and a task created through the dashboard with a wallet.
  await open(workerPage, `/workers/${worker}`);
  await accessible(workerPage, "worker");
  await shot(workerPage, "worker");

  const creatorContext = await walletContext(browser, creator, { viewport: { width: 1280, height: 900 } });
  const overview = await creatorContext.newPage();
  watch(overview, "overview");
  await open(overview, "/");
  await accessible(overview, "overview");
  const before = await overview.locator("#tasks-table tbody tr[data-task]").count();
  check(before >= 1 && (await overview.locator(`#tasks-table tr[data-task="${taskId}"]`).textContent()).includes("ended"), "the overview lists the demo task as ended");
  await overview.locator("#connect-wallet").click();
  await overview.waitForFunction((address) => document.getElementById("wallet").textContent.includes(address.slice(0, 6)), creator);
  check(await overview.inputValue("#draft-token") !== "", "the form offers the known reward token");
  await overview.fill("#draft-pool", "50");
  await overview.fill("#draft-stake", "5");
  await overview.fill("#draft-rounds", "2");
  await overview.fill("#draft-workers", "4");
  await overview.fill("#draft-window", "60");
  await overview.locator("#create-task button[type=submit]").click();
  await overview.waitForSelector("#draft-status[data-tx]", { timeout: 120000 });
  await overview.waitForFunction((count) => document.querySelectorAll("#tasks-table tbody tr[data-task]").length === count + 1, before, { timeout: 60000 });
  const created = (await api("/api/v1/tasks")).at(-1);
  check(created.requester === creator && created.num_rounds === 2 && created.reward_pool === (50n * 10n ** 18n).toString(),
    `task ${created.task_id} was created by the wallet's account with the form's values, and appeared without a reload`);
  await shot(overview, "overview");

  // 5. A phone-sized screen.
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  const small = await phone.newPage();
  watch(small, "task (phone)");
  await open(small, `/tasks/${taskId}`);
  await accessible(small, "task (phone)");
  await shot(small, "task-phone");

  check(faults.length === 0, `no console errors, uncaught exceptions or failed requests${faults.length ? `:\n  ${faults.join("\n  ")}` : ""}`);
  log("all checks passed");
} finally {
  await browser.close();
}
