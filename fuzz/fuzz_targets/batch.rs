//! `POST /v2/batch` bodies (spec §3.3): any bytes are a list of items or an error,
//! and an item's destination and headers then go through the same parsers as a
//! single publish.
#![no_main]

use depesha_core::batch::parse_batch;
use depesha_core::destination::Destination;
use depesha_core::destination_policy::DestinationPolicy;
use depesha_core::publish::{classify, PublishLimits};
use libfuzzer_sys::fuzz_target;

/// 2024-03-01T12:34:56.789Z.
const NOW: u64 = 1_709_296_496_789;

fuzz_target!(|data: &[u8]| {
    let Ok(items) = parse_batch(data) else {
        return;
    };
    // The strict policy of `depesha serve`: the checks of every callback layer run.
    let limits = PublishLimits {
        destinations: DestinationPolicy::public_only(Vec::new()),
        ..PublishLimits::default()
    };
    for item in items {
        let _ = Destination::parse(&item.destination, &limits.destinations);
        let _ = classify(&item.headers, &limits, NOW);
    }
});
