// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @title NxNScores — gas model of an all-pairs on-chain scoring round (FLBLC-style)
/// @notice NOT the FLBLC code: a minimal Solidity model of the on-chain work per round in the design of
/// Jaberzadeh et al. (2023), written only to measure gas. Each round every one of the n workers submits n scores
/// (one per worker) in its own transaction: n x n fresh score slots per round. The round is then settled on
/// chain: every score is read to total each worker's contribution, and every worker is paid its share by an
/// ERC-20 transfer: O(n^2) reads plus O(n) transfers per round.
contract NxNScores {
    using SafeERC20 for IERC20;

    IERC20 public immutable token;
    uint256 public immutable rewardPerRound;
    address[] public workers;
    mapping(address worker => uint256) public indexPlusOne;
    uint256 public round;
    mapping(uint256 round => mapping(uint256 scorer => mapping(uint256 scored => uint256))) public scores;

    constructor(IERC20 token_, uint256 rewardPerRound_, address[] memory workers_) {
        token = token_;
        rewardPerRound = rewardPerRound_;
        for (uint256 i; i < workers_.length; ++i) {
            workers.push(workers_[i]);
            indexPlusOne[workers_[i]] = i + 1;
        }
    }

    /// @notice The caller's scores of every worker for the current round (one storage slot each).
    function submitScores(uint256[] calldata s) external {
        uint256 scorer = indexPlusOne[msg.sender];
        require(scorer != 0, "not a worker");
        require(s.length == workers.length, "need one score per worker");
        mapping(uint256 => uint256) storage row = scores[round][scorer - 1];
        for (uint256 j; j < s.length; ++j) {
            row[j] = s[j];
        }
    }

    /// @notice Totals every worker's received scores and pays each its share of the round's reward.
    function payout() external {
        uint256 n = workers.length;
        uint256[] memory totals = new uint256[](n);
        uint256 sum;
        for (uint256 i; i < n; ++i) {
            mapping(uint256 => uint256) storage row = scores[round][i];
            for (uint256 j; j < n; ++j) {
                totals[j] += row[j];
            }
        }
        for (uint256 j; j < n; ++j) {
            sum += totals[j];
        }
        ++round;
        for (uint256 j; j < n; ++j) {
            token.safeTransfer(workers[j], rewardPerRound * totals[j] / sum);
        }
    }
}
