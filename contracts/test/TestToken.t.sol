// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";

import {TestToken} from "../src/TestToken.sol";

contract TestTokenTest is Test {
    TestToken internal token;

    function setUp() public {
        token = new TestToken("Tessera Test Token", "TTT");
    }

    function test_metadata() public view {
        assertEq(token.name(), "Tessera Test Token");
        assertEq(token.symbol(), "TTT");
        assertEq(token.decimals(), 18);
    }

    function testFuzz_mint_anyoneCanMint(address caller, address to, uint256 amount) public {
        vm.assume(to != address(0));
        vm.prank(caller);
        token.mint(to, amount);
        assertEq(token.balanceOf(to), amount);
        assertEq(token.totalSupply(), amount);
    }
}
