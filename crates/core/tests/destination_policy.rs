//! The destination policy of `depesha serve`: which hosts a URL may name, in every
//! form a URL can write them, and what `allow_destinations` lets through.

use std::net::IpAddr;

use depesha_core::destination_policy::{AllowRule, DestinationPolicy};
use depesha_core::destination_url::check_url;
use depesha_core::ip_class::{non_public, IpNet, NonPublic};

fn strict() -> DestinationPolicy {
    DestinationPolicy::public_only(Vec::new())
}

fn allowing(rules: &[&str]) -> DestinationPolicy {
    DestinationPolicy::public_only_allowing(rules).expect("valid rules")
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("an IP address")
}

/// Every literal form of a blocked host, as a URL names it, and why it is blocked.
const BLOCKED_URLS: [(&str, &str); 32] = [
    ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
    ("http://2852039166/", "cloud metadata"),
    ("http://0xa9fea9fe/", "cloud metadata"),
    ("http://0251.0376.0251.0376/", "cloud metadata"),
    ("http://169.254.43518/", "cloud metadata"),
    ("http://[::ffff:169.254.169.254]/", "cloud metadata"),
    ("http://[::ffff:a9fe:a9fe]/", "cloud metadata"),
    ("http://[fd00:ec2::254]/", "cloud metadata"),
    ("http://100.100.100.200/", "cloud metadata"),
    (
        "http://metadata.google.internal/computeMetadata/v1/",
        "cloud metadata service",
    ),
    (
        "http://METADATA.GOOGLE.INTERNAL./",
        "cloud metadata service",
    ),
    ("http://localhost:8080/", "this machine"),
    ("http://api.localhost/", "this machine"),
    ("http://127.0.0.1/", "loopback"),
    ("http://127.1/", "loopback"),
    ("http://0x7f000001/", "loopback"),
    ("http://017700000001/", "loopback"),
    ("http://[::1]/", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),
    ("http://10.0.0.1/", "private"),
    ("http://172.16.5.4/", "private"),
    ("http://192.168.1.1/", "private"),
    ("http://100.64.0.1/", "carrier-grade NAT"),
    ("http://169.254.1.1/", "link-local"),
    ("http://[fe80::1]/", "link-local"),
    ("http://[fd00::1]/", "unique-local"),
    ("http://224.0.0.1/", "multicast"),
    ("http://[ff02::1]/", "multicast"),
    ("http://255.255.255.255/", "broadcast"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("http://192.0.2.10/", "documentation"),
];

#[test]
fn every_literal_form_of_a_blocked_host_is_refused_with_its_reason() {
    for (url, reason) in BLOCKED_URLS {
        let error = check_url("destination", url, &strict()).expect_err(url).0;
        assert!(
            error.starts_with("destination: destination ") && error.contains(reason),
            "{url}: {error}"
        );
        assert!(error.ends_with("see allow_destinations"), "{url}: {error}");
    }
}

#[test]
fn the_error_names_the_host_as_the_parser_reads_it() {
    let error = check_url("Upstash-Callback", "http://2852039166/x", &strict())
        .expect_err("blocked")
        .0;
    assert_eq!(
        error,
        "Upstash-Callback: destination 169.254.169.254 is not allowed: cloud metadata address; see allow_destinations"
    );
}

#[test]
fn public_hosts_and_names_pass() {
    for url in [
        "https://example.com/hook",
        "http://93.184.215.14/",
        "http://[2606:4700::1111]/",
        "https://8.8.8.8:8443/x",
        "https://localhost.example.com/",
        "https://metadata.google.internal.example.com/",
    ] {
        assert_eq!(
            check_url("destination", url, &strict()),
            Ok(url.to_string())
        );
    }
}

#[test]
fn the_default_policy_allows_everything() {
    for (url, _) in BLOCKED_URLS {
        assert!(
            check_url("destination", url, &DestinationPolicy::default()).is_ok(),
            "{url}"
        );
    }
}

#[test]
fn ranges_of_every_kind_are_classified() {
    let table = [
        ("127.255.255.254", NonPublic::Loopback),
        ("10.255.255.255", NonPublic::Private),
        ("172.31.255.255", NonPublic::Private),
        ("192.168.0.1", NonPublic::Private),
        ("100.127.255.255", NonPublic::SharedAddressSpace),
        ("169.254.0.1", NonPublic::LinkLocal),
        ("169.254.169.254", NonPublic::CloudMetadata),
        ("169.254.170.2", NonPublic::CloudMetadata),
        ("239.255.255.250", NonPublic::Multicast),
        ("255.255.255.255", NonPublic::Broadcast),
        ("0.0.0.0", NonPublic::Unspecified),
        ("0.1.2.3", NonPublic::Unspecified),
        ("192.0.2.1", NonPublic::Documentation),
        ("198.51.100.1", NonPublic::Documentation),
        ("203.0.113.1", NonPublic::Documentation),
        ("198.18.0.1", NonPublic::Reserved),
        ("192.0.0.8", NonPublic::Reserved),
        ("240.0.0.1", NonPublic::Reserved),
        ("::1", NonPublic::Loopback),
        ("::", NonPublic::Unspecified),
        ("fe80::1", NonPublic::LinkLocal),
        ("fc00::1", NonPublic::UniqueLocal),
        ("fdff::1", NonPublic::UniqueLocal),
        ("fd00:ec2::254", NonPublic::CloudMetadata),
        ("ff05::2", NonPublic::Multicast),
        ("2001:db8::1", NonPublic::Documentation),
        ("3fff::1", NonPublic::Documentation),
        ("100::1", NonPublic::Reserved),
        ("2001::1", NonPublic::Reserved),
        ("4000::1", NonPublic::Reserved),
        ("64:ff9b:1::1", NonPublic::Private),
        // IPv6 forms that carry an IPv4 address are judged by it.
        ("::ffff:10.0.0.1", NonPublic::Private),
        ("::127.0.0.1", NonPublic::Loopback),
        ("64:ff9b::a9fe:a9fe", NonPublic::CloudMetadata),
        ("64:ff9b::7f00:1", NonPublic::Loopback),
        ("2002:7f00:1::", NonPublic::Loopback),
        ("2002:a9fe:a9fe::1", NonPublic::CloudMetadata),
    ];
    for (address, expected) in table {
        assert_eq!(non_public(ip(address)), Some(expected), "{address}");
    }
    for public in [
        "1.1.1.1",
        "100.63.255.255",
        "100.128.0.0",
        "172.32.0.1",
        "169.253.255.255",
        "2606:4700::1111",
        "::ffff:1.1.1.1",
        "64:ff9b::808:808",
        "2002:808:808::1",
    ] {
        assert_eq!(non_public(ip(public)), None, "{public}");
    }
}

#[test]
fn allow_destinations_lets_listed_networks_and_names_through() {
    let policy = allowing(&[
        "127.0.0.1/32",
        "internal.example",
        "10.1.0.0/16",
        "*.corp.example",
        "[fd00::1]",
    ]);
    for url in [
        "http://127.0.0.1:3000/",
        "http://127.1/",
        "http://[::ffff:127.0.0.1]/",
        "http://10.1.200.3/",
        "http://[fd00::1]/",
        "http://internal.example/",
        "http://INTERNAL.example./",
        "http://api.corp.example/",
    ] {
        assert!(check_url("destination", url, &policy).is_ok(), "{url}");
    }
    for url in [
        "http://127.0.0.2/",
        "http://10.2.0.1/",
        "http://[fd00::2]/",
        "http://localhost/",
        "http://169.254.169.254/",
    ] {
        assert!(check_url("destination", url, &policy).is_err(), "{url}");
    }
}

#[test]
fn resolved_addresses_are_checked_unless_the_name_is_allowed() {
    let policy = allowing(&["internal.example", "10.1.0.0/16"]);
    let refusal = policy
        .check_resolved("rebind.example", ip("127.0.0.1"))
        .expect_err("loopback");
    assert_eq!(
        refusal.to_string(),
        "destination rebind.example is not allowed: it resolves to 127.0.0.1, a loopback address; see allow_destinations"
    );
    assert!(policy
        .check_resolved("rebind.example", ip("10.1.0.7"))
        .is_ok());
    assert!(policy
        .check_resolved("rebind.example", ip("93.184.215.14"))
        .is_ok());
    assert!(policy
        .check_resolved("internal.example", ip("192.168.0.9"))
        .is_ok());
    assert!(DestinationPolicy::allow_all()
        .check_resolved("localhost", ip("127.0.0.1"))
        .is_ok());
}

#[test]
fn allow_rules_are_read_strictly() {
    assert_eq!(
        AllowRule::parse("10.1.0.0/16"),
        Ok(AllowRule::Net(IpNet::parse("10.1.0.0/16").expect("net")))
    );
    assert_eq!(
        AllowRule::parse(" Internal.Example. "),
        Ok(AllowRule::Host("internal.example".into()))
    );
    for bad in [
        "",
        "10.0.0.0/33",
        "fd00::/129",
        "http://x.example",
        "a b",
        "*.",
    ] {
        let error = AllowRule::parse(bad).expect_err(bad).0;
        assert!(error.contains("allow_destinations"), "{bad}: {error}");
    }
}
