// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Script, console2} from "forge-std/Script.sol";

import {Marketplace} from "../src/Marketplace.sol";
import {TestToken} from "../src/TestToken.sol";

/// @title Deploy — deploys the Tessera Marketplace and, on request, a mintable TestToken
/// @notice Environment (all optional):
/// - TESSERA_ADMIN: receives DEFAULT_ADMIN_ROLE and PAUSER_ROLE (default: the broadcasting account).
/// - TESSERA_DEPLOY_TEST_TOKEN: "true" to also deploy TestToken (local networks only; anyone can mint it).
/// Example (anvil):
///   TESSERA_DEPLOY_TEST_TOKEN=true forge script script/Deploy.s.sol --rpc-url http://127.0.0.1:8545 \
///     --private-key $KEY --broadcast
/// Or with explicit arguments: --sig "deploy(address,bool)" <admin> true
/// Addresses are logged as `Marketplace: 0x…` and `TestToken: 0x…` and returned by run() / deploy().
contract Deploy is Script {
    /// @notice Deploys with settings from the environment.
    /// @return market The marketplace.
    /// @return token The test token, or address(0) when not requested.
    function run() external returns (Marketplace market, TestToken token) {
        bool deployTestToken = vm.envOr("TESSERA_DEPLOY_TEST_TOKEN", false);
        vm.startBroadcast();
        (, address broadcaster,) = vm.readCallers();
        address admin = vm.envOr("TESSERA_ADMIN", broadcaster);
        (market, token) = _deploy(admin, deployTestToken);
        vm.stopBroadcast();
    }

    /// @notice Deploys with explicit settings.
    /// @param admin Receives DEFAULT_ADMIN_ROLE and PAUSER_ROLE.
    /// @param deployTestToken Whether to also deploy TestToken.
    /// @return market The marketplace.
    /// @return token The test token, or address(0) when not requested.
    function deploy(address admin, bool deployTestToken) external returns (Marketplace market, TestToken token) {
        vm.startBroadcast();
        (market, token) = _deploy(admin, deployTestToken);
        vm.stopBroadcast();
    }

    function _deploy(address admin, bool deployTestToken) internal returns (Marketplace market, TestToken token) {
        market = new Marketplace(admin);
        console2.log("Marketplace:", address(market));
        console2.log("Admin:", admin);
        if (deployTestToken) {
            token = new TestToken("Tessera Test Token", "TTT");
            console2.log("TestToken:", address(token));
        }
    }
}
