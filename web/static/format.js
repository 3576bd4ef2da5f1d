// Pure formatting and parsing: no DOM, no network, so `node --test` covers it.

const GROUP = /\B(?=(\d{3})+(?!\d))/g;

/** Base units (a decimal string or bigint) as a token amount: `1234.5` with `decimals` 18 and `digits` 2. */
export function formatUnits(baseUnits, decimals, digits = 2) {
  let value = BigInt(baseUnits ?? 0);
  const negative = value < 0n;
  if (negative) value = -value;
  const scale = 10n ** BigInt(decimals);
  let whole = value / scale;
  let fraction = value % scale;
  let text;
  if (decimals === 0 || digits === 0) {
    if (decimals > 0 && fraction * 2n >= scale) whole += 1n;
    text = whole.toString().replace(GROUP, ",");
  } else {
    const shown = Math.min(digits, decimals);
    const unit = 10n ** BigInt(decimals - shown);
    let rounded = (fraction + unit / 2n) / unit;
    if (rounded >= 10n ** BigInt(shown)) {
      whole += 1n;
      rounded = 0n;
    }
    text = `${whole.toString().replace(GROUP, ",")}.${rounded.toString().padStart(shown, "0")}`;
    if (value > 0n && whole === 0n && rounded === 0n) text = `<0.${"0".repeat(shown - 1)}1`;
  }
  return negative ? `-${text}` : text;
}

/** A token amount typed by a person (`12.5`) as base units, a decimal string; throws on anything else. */
export function parseUnits(text, decimals) {
  const trimmed = String(text).trim().replace(/,/g, "");
  const match = /^(\d+)(?:\.(\d*))?$/.exec(trimmed);
  if (!match) throw new Error(`"${text}" is not an amount`);
  const fraction = match[2] ?? "";
  if (fraction.length > decimals) throw new Error(`"${text}" has more than ${decimals} decimal places`);
  return (BigInt(match[1]) * 10n ** BigInt(decimals) + BigInt(fraction.padEnd(decimals, "0") || "0")).toString();
}

/** The reward token of a task as the coordinator indexed it; base units when the token has no metadata. */
export function tokenOf(task) {
  const metadata = task?.config?.reward_token_metadata;
  if (metadata && Number.isInteger(metadata.decimals)) return { symbol: String(metadata.symbol), decimals: metadata.decimals };
  return { symbol: "base units", decimals: 0 };
}

/** `amount symbol`, from base units. */
export function formatToken(baseUnits, token) {
  return `${formatUnits(baseUnits, token.decimals)} ${token.symbol}`;
}

/** `0x1234…cdef`. */
export function shortHex(hex, keep = 4) {
  if (typeof hex !== "string" || hex.length <= 2 + 2 * keep + 1) return hex ?? "";
  return `${hex.slice(0, 2 + keep)}…${hex.slice(-keep)}`;
}

/** `Qmabcd…wxyz`. */
export function shortCid(cid, keep = 6) {
  if (typeof cid !== "string" || cid.length <= 2 * keep + 1) return cid ?? "";
  return `${cid.slice(0, keep)}…${cid.slice(-keep)}`;
}

/** A fraction (0 to 1) as a percentage. */
export function percent(fraction, digits = 2) {
  return Number.isFinite(fraction) ? `${(100 * fraction).toFixed(digits)}%` : "–";
}

/** A number with fixed digits, or a dash. */
export function fixed(value, digits = 3) {
  return Number.isFinite(value) ? value.toFixed(digits) : "–";
}

/** Unix milliseconds as a short UTC date and time. */
export function dateTime(ms) {
  if (!Number.isFinite(ms)) return "–";
  return new Date(ms).toISOString().replace("T", " ").slice(0, 19) + " UTC";
}

// One label per reason the API sends (tessera_api::Reason); an unknown one is shown by its name.
const REASONS = {
  free_rider: "Free-riding",
  poisoning: "Poisoning",
  copy: "Copying",
  no_show: "No show",
};

/** A flag or slash reason for people. */
export function reasonLabel(reason) {
  return REASONS[reason] ?? String(reason).replace(/_/g, " ");
}

const num = (value, digits = 4) => (Number.isFinite(value) ? value.toFixed(digits) : "?");

/** What a copy copied: an earlier worker's update or a global change. */
function describeSource(source) {
  if (!source || typeof source !== "object") return "an earlier update";
  if (source.kind === "global_change") return `the global change of round ${source.round}`;
  return `${source.worker}'s update of round ${source.round}`;
}

/** What the scorer measured behind a flag, in a sentence. */
export function describeEvidence(evidence) {
  if (!evidence || typeof evidence !== "object") return "";
  switch (evidence.kind) {
    case "copied":
      return `only ${num(100 * evidence.residual, 1)}% of the update is new: the rest lies in what was received or published before it (bar: ${num(100 * evidence.max_residual, 1)}%, 70% of the round's median of ${num(100 * evidence.median_residual, 1)}% within fixed bounds); closest to ${describeSource(evidence.source)} (cosine ${num(evidence.cosine, 4)})`;
    case "shared_beyond_common":
      return `beyond the direction the whole round shares, the update matches ${describeSource(evidence.source)} (cosine ${num(evidence.partial_cosine, 3)} with that direction taken out of both; bar ${num(evidence.bar, 3)}, set by the round's median of ${num(evidence.median_partial_cosine, 3)}): a copy under noise`;
    case "nothing_beyond":
      return `what is left of the update beyond ${describeSource(evidence.source)} agrees with the other updates with cosine ${num(evidence.cosine, 4)} (bar ${num(evidence.bar, 4)}: chance, or a quarter of the round's median of ${num(evidence.median_cosine, 4)}): it adds only noise to it, a copy under noise`;
    case "tiny_norm":
      return `update norm ${num(evidence.norm)} against a round median of ${num(evidence.median_norm)} (bar: ${num(100 * evidence.min_ratio, 1)}% of the median)`;
    case "uncorrelated":
      return `mean cosine to the others ${num(evidence.mean_cosine)} over ${evidence.rounds} rounds (bar: ${num(evidence.max_cosine)})`;
    case "low_reputation":
      return `reputation ${num(evidence.reputation)} fell below ${num(evidence.threshold)} (this round's cosine ${num(evidence.cosine)})`;
    case "validation_harm":
      return `the update alone raised the validation loss by ${num(-evidence.loss_gain)}, against a round median gain of ${num(evidence.median_gain)} (spread ${num(evidence.spread)}; bar ${num(evidence.bar)}), round after round`;
    case "missing":
      return "sent no update this round";
    case "failed":
      return `reported a failure: ${evidence.reason}`;
    default:
      return JSON.stringify(evidence);
  }
}

/** Whether `text` is a 20-byte hex address. */
export function isAddress(text) {
  return /^0x[0-9a-fA-F]{40}$/.test(String(text).trim());
}

/**
 * Who may read what a task produces, in words: [artefacts, privacy] for the task page.
 * @param {{policy_cid: string, policy?: {auditors?: string[], publish_keys?: boolean,
 *   privacy?: {clip: number, noise_multiplier: number, delta: number} | null} | null,
 *   epsilon?: number | null} | null | undefined} access
 * @param {number} rounds
 */
export function describeAccess(access, rounds) {
  if (!access) return ["Public: updates and models are on IPFS unencrypted", null];
  const policy = access.policy;
  if (!policy) return [`Sealed (policy ${shortCid(access.policy_cid)}, not readable by this coordinator)`, null];
  const auditors = policy.auditors?.length ?? 0;
  const keys = policy.publish_keys ? "keys published when the task ends" : "keys never published";
  const artefacts = `Sealed: updates for the coordinator and ${auditors} auditor${auditors === 1 ? "" : "s"}; ` +
    `each checkpoint for that round's workers, the requester and the auditors; the final model for the requester; ${keys}`;
  const dp = policy.privacy;
  const privacy = dp
    ? `ε ${fixed(access.epsilon ?? NaN, 2)} at δ ${dp.delta} over ${rounds} round${rounds === 1 ? "" : "s"} (updates clipped to ${dp.clip}, noise ×${fixed(dp.noise_multiplier, 3)})`
    : null;
  return [artefacts, privacy];
}
