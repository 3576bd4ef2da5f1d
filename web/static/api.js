// The coordinator's JSON API and its server-sent events.

/** An API answer that was not a success, with the server's code and message. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function request(path, init) {
  const response = await fetch(path, { headers: { accept: "application/json" }, ...init });
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    throw new ApiError(response.status, "not_json", `${path} answered ${response.status} with something that is not JSON`);
  }
  if (!response.ok) {
    const error = body?.error ?? {};
    throw new ApiError(response.status, error.code ?? "http", error.message ?? `${path} answered ${response.status}`);
  }
  return body;
}

/** GETs a JSON document. */
export const getJson = (path) => request(path);

/** POSTs `value` as JSON. */
export const postJson = (path, value) =>
  request(path, { method: "POST", headers: { accept: "application/json", "content-type": "application/json" }, body: JSON.stringify(value) });

export const api = {
  info: () => getJson("/api/v1/info"),
  tasks: () => getJson("/api/v1/tasks"),
  task: (id) => getJson(`/api/v1/tasks/${id}`),
  rounds: (id) => getJson(`/api/v1/tasks/${id}/rounds`),
  workers: (id) => getJson(`/api/v1/tasks/${id}/workers`),
  account: (address) => getJson(`/api/v1/accounts/${address}`),
  proof: (id, address) => getJson(`/api/v1/tasks/${id}/workers/${address}/proof`),
  draftTask: (draft) => postJson("/api/v1/task-drafts", draft),
};

const KINDS = ["round", "submission", "task", "chain", "lagged"];

/**
 * Follows the coordinator's events, calling `onEvent({kind, task_id, round, state, worker})` for each; a
 * `lagged` event (the server dropped some for a slow reader) arrives as `{kind: "lagged"}`. The browser's
 * EventSource reconnects on its own; `onStatus(open)` reports the connection.
 */
export function follow(onEvent, onStatus = () => {}) {
  if (typeof EventSource === "undefined") return () => {};
  const source = new EventSource("/api/v1/events");
  for (const kind of KINDS) {
    source.addEventListener(kind, (message) => {
      let event = { kind };
      if (kind !== "lagged") {
        try {
          event = JSON.parse(message.data);
        } catch {
          return;
        }
      }
      onEvent(event);
    });
  }
  source.addEventListener("open", () => onStatus(true));
  source.addEventListener("error", () => onStatus(false));
  return () => source.close();
}
