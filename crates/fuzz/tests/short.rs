//! The short run `make test` does: every target, a few thousand inputs each, no finding.

use std::time::Duration;
use tessera_fuzz::{Budget, fuzz, targets};

#[test]
fn every_target_survives_a_short_run() {
    let budget = Budget { inputs: 3_000, time: Duration::from_secs(60) };
    for mut target in targets::all() {
        let report = fuzz(target.as_mut(), budget, 1);
        assert!(report.inputs > 0, "{} ran nothing", report.target);
        let found: Vec<String> = report
            .findings
            .iter()
            .map(|f| {
                let input: String = String::from_utf8_lossy(&f.input).chars().take(200).collect();
                let message: String = f.message.chars().take(400).collect();
                format!("{message} (input {input:?})")
            })
            .collect();
        assert!(found.is_empty(), "{}: {found:#?}", report.target);
    }
}
