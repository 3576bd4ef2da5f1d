// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";

import {Deploy} from "../../script/Deploy.s.sol";
import {Marketplace} from "../../src/Marketplace.sol";
import {TestToken} from "../../src/TestToken.sol";

contract DeployScriptTest is Test {
    Deploy internal script;

    function setUp() public {
        script = new Deploy();
    }

    function test_deploy_withExplicitAdminAndToken() public {
        address admin = makeAddr("admin");
        (Marketplace market, TestToken token) = script.deploy(admin, true);
        assertTrue(market.hasRole(market.DEFAULT_ADMIN_ROLE(), admin));
        assertTrue(market.hasRole(market.PAUSER_ROLE(), admin));
        assertTrue(address(token) != address(0));
        token.mint(admin, 1);
        assertEq(token.balanceOf(admin), 1);
    }

    function test_deploy_withoutToken() public {
        (Marketplace market, TestToken token) = script.deploy(makeAddr("admin"), false);
        assertTrue(address(market).code.length != 0);
        assertEq(address(token), address(0));
    }

    function test_run_fromEnvironment() public {
        address admin = makeAddr("env-admin");
        vm.setEnv("TESSERA_ADMIN", vm.toString(admin));
        vm.setEnv("TESSERA_DEPLOY_TEST_TOKEN", "true");
        (Marketplace market, TestToken token) = script.run();
        assertTrue(market.hasRole(market.DEFAULT_ADMIN_ROLE(), admin));
        assertTrue(address(token) != address(0));
    }
}
