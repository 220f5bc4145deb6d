//! Destinations (spec §1, §2.4): the URL or URL-group name of a publish path or batch
//! item, callback URLs, and URL-group endpoints, under both destination policies (`dev`
//! allows all; `serve` refuses what is not public, issue 10). Any text is a destination
//! or an error; an accepted URL passes the URL check and reads back as itself, an
//! accepted group name is a valid name, and what the strict policy accepts the lax one
//! accepts too. Allow rules (`allow_destinations`) are read from the same text.
#![no_main]

use depesha_core::destination::Destination;
use depesha_core::destination_policy::{AllowRule, DestinationPolicy};
use depesha_core::destination_url::check_url;
use depesha_core::ids::is_valid_name;
use depesha_core::url_group::check_endpoint;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let all = DestinationPolicy::allow_all();
    let public = DestinationPolicy::public_only(Vec::new());
    match Destination::parse(text, &all) {
        Ok(Destination::Url(url)) => {
            assert_eq!(check_url("destination", &url, &all).as_ref(), Ok(&url));
            assert_eq!(
                Destination::parse(&url, &all),
                Ok(Destination::Url(url.clone()))
            );
        }
        Ok(Destination::UrlGroup(name)) => assert!(is_valid_name(&name), "{name:?}"),
        Err(_) => {}
    }
    if let Ok(strict) = Destination::parse(text, &public) {
        assert_eq!(Destination::parse(text, &all), Ok(strict), "{text:?}");
    }
    let _ = check_endpoint(Some(text), Some(text), &public);
    if let Ok(rule) = AllowRule::parse(text) {
        let _ = DestinationPolicy::public_only(vec![rule]);
    }
});
