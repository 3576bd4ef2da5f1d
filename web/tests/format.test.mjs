// `node --test web/tests`: the dashboard's pure helpers.
import assert from "node:assert/strict";
import test from "node:test";
import { scales } from "../static/chart.js";
import { describeAccess, describeEvidence, formatUnits, isAddress, parseUnits, percent, shortHex, tokenOf } from "../static/format.js";

test("formatUnits groups, rounds and keeps tiny amounts visible", () => {
  assert.equal(formatUnits("1234567890000000000000", 18), "1,234.57");
  assert.equal(formatUnits("999999999999999999", 18), "1.00");
  assert.equal(formatUnits("1", 18), "<0.01");
  assert.equal(formatUnits("0", 18), "0.00");
  assert.equal(formatUnits("1500", 0), "1,500");
  assert.equal(formatUnits(-25n, 1), "-2.5", "no more digits than the token has");
  assert.equal(formatUnits("340282366920938463463374607431768211455", 18), "340,282,366,920,938,463,463.37");
});

test("parseUnits is exact and refuses what it cannot represent", () => {
  assert.equal(parseUnits("1000", 18), "1000000000000000000000");
  assert.equal(parseUnits("12.5", 18), "12500000000000000000");
  assert.equal(parseUnits("1,000.25", 2), "100025");
  assert.equal(parseUnits("7.", 3), "7000");
  assert.throws(() => parseUnits("1.234", 2), /more than 2 decimal places/);
  assert.throws(() => parseUnits("-1", 18), /not an amount/);
  assert.throws(() => parseUnits("1e18", 18), /not an amount/);
  assert.equal(formatUnits(parseUnits("42.42", 18), 18), "42.42");
});

test("tokens without metadata are shown in base units", () => {
  assert.deepEqual(tokenOf({ config: { reward_token_metadata: { symbol: "TST", decimals: 18 } } }), { symbol: "TST", decimals: 18 });
  assert.deepEqual(tokenOf({ config: { reward_token_metadata: null } }), { symbol: "base units", decimals: 0 });
  assert.deepEqual(tokenOf(undefined), { symbol: "base units", decimals: 0 });
});

test("evidence reads as a sentence with its numbers", () => {
  const harm = describeEvidence({ kind: "validation_harm", loss_gain: -0.2, median_gain: 0.05, spread: 0.01, bar: -0.01 });
  assert.match(harm, /raised the validation loss by 0\.2000, against a round median gain of 0\.0500 \(spread 0\.0100; bar -0\.0100\)/);
  const copy = describeEvidence({ kind: "copied", source: { kind: "update", worker: "0xaa", round: 3 }, cosine: 0.999, residual: 0.01, max_residual: 0.4, median_residual: 0.8, receipt: 4 });
  assert.match(copy, /only 1\.0% of the update is new: the rest lies in what was received or published before it \(bar: 40\.0%, 70% of the round's median of 80\.0%/);
  assert.match(copy, /closest to 0xaa's update of round 3/);
  assert.match(describeEvidence({ kind: "copied", source: { kind: "global_change", round: 2 }, cosine: 1, residual: 0, max_residual: 0.25, median_residual: 0.5 }), /the global change of round 2/);
  const noised = describeEvidence({ kind: "shared_beyond_common", source: { kind: "update", worker: "0xbb", round: 5 }, partial_cosine: 0.57, bar: 0.4, median_partial_cosine: 0.16, receipt: 9 });
  assert.match(noised, /matches 0xbb's update of round 5 \(cosine 0\.570 with that direction taken out of both; bar 0\.400, set by the round's median of 0\.160\): a copy under noise/);
  const nothing = describeEvidence({ kind: "nothing_beyond", source: { kind: "update", worker: "0xbb", round: 5 }, cosine: 0.0021, bar: 0.016, median_cosine: 0.2, receipt: 9 });
  assert.match(nothing, /beyond 0xbb's update of round 5 agrees with the other updates with cosine 0\.0021 \(bar 0\.0160: chance, or a quarter of the round's median of 0\.2000\): it adds only noise/);
  assert.match(describeEvidence({ kind: "tiny_norm", norm: 0, median_norm: 2, min_ratio: 0.01 }), /norm 0\.0000 against a round median of 2\.0000/);
  assert.match(describeEvidence({ kind: "failed", reason: "out of memory" }), /out of memory/);
  assert.equal(describeEvidence(null), "");
});

test("small helpers", () => {
  assert.equal(shortHex("0x1234567890abcdef1234567890abcdef12345678"), "0x1234…5678");
  assert.equal(percent(0.97551), "97.55%");
  assert.equal(percent(undefined), "–");
  assert.ok(isAddress("0x1234567890abcdef1234567890ABCDEF12345678"));
  assert.ok(!isAddress("0x1234"));
});

test("chart scales keep every point inside the plot", () => {
  const points = [{ round: 1, accuracy: 0.78, loss: 0.9 }, { round: 2, accuracy: 0.94, loss: 0.2 }, { round: 3, accuracy: 0.97, loss: 0.1 }];
  const s = scales(points);
  assert.ok(Math.abs(s.accuracyFloor - 0.7) < 1e-9 && s.steps === 3, "gridlines every 10 points from 70%");
  assert.ok(s.x(1) < s.x(2) && s.x(2) < s.x(3));
  for (const p of points) {
    for (const y of [s.yAccuracy(p.accuracy), s.yLoss(p.loss)]) assert.ok(y >= 16 && y <= 220, `y ${y}`);
  }
  assert.ok(s.yAccuracy(0.97) < s.yAccuracy(0.78), "higher accuracy is drawn higher");
  const single = scales([{ round: 4, accuracy: 0.5, loss: 1 }]);
  assert.equal(single.x(4), 52 + (640 - 52 - 56) / 2);
});

test("a task's access reads as who may read what", () => {
  assert.deepEqual(describeAccess(null, 3), ["Public: updates and models are on IPFS unencrypted", null]);
  const policy = { auditors: ["0x02aa"], publish_keys: true, privacy: { clip: 1, noise_multiplier: 1.2344, delta: 1e-5 } };
  const [artefacts, privacy] = describeAccess({ policy_cid: "bafkreiabc", policy, epsilon: 2.5 }, 3);
  assert.match(artefacts, /^Sealed: updates for the coordinator and 1 auditor;/);
  assert.match(artefacts, /keys published when the task ends$/);
  assert.equal(privacy, "ε 2.50 at δ 0.00001 over 3 rounds (updates clipped to 1, noise ×1.234)");
  const [unread] = describeAccess({ policy_cid: "bafkreiabcdefghijkl", policy: null }, 1);
  assert.match(unread, /^Sealed \(policy /);
  assert.equal(describeAccess({ policy_cid: "x", policy: { auditors: [] } }, 1)[1], null);
});
