//! Destinations (spec §1, §2.4): the URL or URL-group name of a publish path or batch
//! item, callback URLs, and URL-group endpoints. Any text is a destination or an
//! error; an accepted URL passes the URL check and reads back as itself, and an
//! accepted group name is a valid name.
#![no_main]

use depesha_core::destination::Destination;
use depesha_core::ids::is_valid_name;
use depesha_core::publish::check_url;
use depesha_core::url_group::check_endpoint;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Destination::parse(text) {
        Ok(Destination::Url(url)) => {
            assert_eq!(check_url("destination", &url).as_ref(), Ok(&url));
            assert_eq!(Destination::parse(&url), Ok(Destination::Url(url.clone())));
        }
        Ok(Destination::UrlGroup(name)) => assert!(is_valid_name(&name), "{name:?}"),
        Err(_) => {}
    }
    let _ = check_endpoint(Some(text), Some(text));
});
