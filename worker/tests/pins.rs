//! The marketplace a coordinator names is pinned per chain at first use, and another is refused.

use alloy::primitives::Address;
use std::collections::BTreeMap;
use tessera_worker::pins::{Pinned, check, load};

#[test]
fn the_first_marketplace_is_pinned_and_another_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pins.json");
    let (first, other) = (Address::repeat_byte(1), Address::repeat_byte(2));
    assert_eq!(check(&path, 31337, first, "http://c").unwrap(), Pinned::New);
    assert_eq!(check(&path, 31337, first, "http://c").unwrap(), Pinned::Known);
    let refused = check(&path, 31337, other, "http://c").unwrap_err().to_string();
    assert!(refused.contains("refusing") && refused.contains(&format!("{first:#x}")), "{refused}");
    assert_eq!(check(&path, 1, other, "http://c").unwrap(), Pinned::New, "each chain has its own pin");
    assert_eq!(load(&path).unwrap().marketplaces, BTreeMap::from([(1, other), (31337, first)]));
    std::fs::write(&path, "not json").unwrap();
    assert!(load(&path).is_err());
}
