// @ts-check
// Live updates: each page says which events concern it and how to refresh.

import { follow } from "./api.js";
import { announce, h } from "./dom.js";
import { dateTime, shortHex } from "./format.js";

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

export function live(concerns, refresh) {
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

export function liveSection() {
  return h("section", { "aria-labelledby": "live-heading", class: "live" },
    h("h2", { id: "live-heading" }, "Live activity ", h("span", { id: "live-status", class: "live-status" }, "Connecting…")),
    h("ol", { id: "live-log", reversed: true }));
}
