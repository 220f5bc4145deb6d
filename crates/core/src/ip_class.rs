//! What kind of address an IP is, for the destination policy: the ranges that are not
//! the public internet (loopback, private networks, link-local, cloud metadata
//! services, …) and why each one is refused. Pure: a table of ranges and a lookup.
//!
//! IPv6 forms that carry an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`, the old
//! IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`, 6to4 `2002:aabb:ccdd::`) are
//! judged by the IPv4 address inside, since that is what a host or gateway ends up
//! talking to: `[::ffff:169.254.169.254]` is the metadata service.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is not a public destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonPublic {
    Loopback,
    /// RFC 1918 and the IPv6 site-local / local-use NAT64 prefixes.
    Private,
    /// 100.64.0.0/10, carrier-grade NAT (RFC 6598).
    SharedAddressSpace,
    LinkLocal,
    /// fc00::/7 (RFC 4193).
    UniqueLocal,
    Multicast,
    Broadcast,
    /// 0.0.0.0 / `::` (and 0.0.0.0/8, "this network").
    Unspecified,
    /// 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32, 3fff::/20.
    Documentation,
    /// Everything else IANA sets aside: benchmarking, protocol assignments, 240/4,
    /// IPv6 outside the global unicast 2000::/3, …
    Reserved,
    /// The instance metadata service of a cloud (credentials live there).
    CloudMetadata,
}

impl fmt::Display for NonPublic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NonPublic::Loopback => "loopback address",
            NonPublic::Private => "private network address",
            NonPublic::SharedAddressSpace => "carrier-grade NAT address (100.64.0.0/10)",
            NonPublic::LinkLocal => "link-local address",
            NonPublic::UniqueLocal => "unique-local address (fc00::/7)",
            NonPublic::Multicast => "multicast address",
            NonPublic::Broadcast => "broadcast address",
            NonPublic::Unspecified => "unspecified address",
            NonPublic::Documentation => "documentation address",
            NonPublic::Reserved => "reserved address",
            NonPublic::CloudMetadata => "cloud metadata address",
        })
    }
}

/// Cloud metadata endpoints, named as such in errors although their ranges are refused
/// anyway: AWS/GCP/Azure/OCI (169.254.169.254), AWS ECS task metadata (169.254.170.2),
/// AWS Nitro DNS (169.254.169.253), Alibaba (100.100.100.200), AWS over IPv6.
const METADATA_V4: [Ipv4Addr; 4] = [
    Ipv4Addr::new(169, 254, 169, 254),
    Ipv4Addr::new(169, 254, 170, 2),
    Ipv4Addr::new(169, 254, 169, 253),
    Ipv4Addr::new(100, 100, 100, 200),
];
const METADATA_V6: [Ipv6Addr; 1] = [Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254)];

/// IPv4 ranges that are not public, most specific first.
const V4_RANGES: [([u8; 4], u8, NonPublic); 17] = [
    ([255, 255, 255, 255], 32, NonPublic::Broadcast),
    ([0, 0, 0, 0], 32, NonPublic::Unspecified),
    ([0, 0, 0, 0], 8, NonPublic::Unspecified),
    ([10, 0, 0, 0], 8, NonPublic::Private),
    ([100, 64, 0, 0], 10, NonPublic::SharedAddressSpace),
    ([127, 0, 0, 0], 8, NonPublic::Loopback),
    ([169, 254, 0, 0], 16, NonPublic::LinkLocal),
    ([172, 16, 0, 0], 12, NonPublic::Private),
    ([192, 0, 0, 0], 24, NonPublic::Reserved),
    ([192, 0, 2, 0], 24, NonPublic::Documentation),
    ([192, 88, 99, 0], 24, NonPublic::Reserved),
    ([192, 168, 0, 0], 16, NonPublic::Private),
    ([198, 18, 0, 0], 15, NonPublic::Reserved),
    ([198, 51, 100, 0], 24, NonPublic::Documentation),
    ([203, 0, 113, 0], 24, NonPublic::Documentation),
    ([224, 0, 0, 0], 4, NonPublic::Multicast),
    ([240, 0, 0, 0], 4, NonPublic::Reserved),
];

/// IPv6 ranges that are not public and carry no IPv4 address, most specific first.
/// Anything outside 2000::/3 is refused after these as reserved.
const V6_RANGES: [(u128, u8, NonPublic); 10] = [
    (0, 128, NonPublic::Unspecified),
    (1, 128, NonPublic::Loopback),
    (0x0064_ff9b_0001_u128 << 80, 48, NonPublic::Private),
    (0x0100_u128 << 112, 64, NonPublic::Reserved),
    (0x2001_0db8_u128 << 96, 32, NonPublic::Documentation),
    (0x2001_u128 << 112, 23, NonPublic::Reserved),
    (0x3fff_u128 << 112, 20, NonPublic::Documentation),
    (0xfc00_u128 << 112, 7, NonPublic::UniqueLocal),
    (0xfe80_u128 << 112, 10, NonPublic::LinkLocal),
    (0xfec0_u128 << 112, 10, NonPublic::Private),
];

/// Why `ip` is not a public address, or `None` when it is one.
pub fn non_public(ip: IpAddr) -> Option<NonPublic> {
    match ip {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => non_public_v6(v6),
    }
}

fn non_public_v4(ip: Ipv4Addr) -> Option<NonPublic> {
    if METADATA_V4.contains(&ip) {
        return Some(NonPublic::CloudMetadata);
    }
    let bits = u32::from(ip);
    V4_RANGES
        .iter()
        .find(|(net, len, _)| prefix_matches_v4(bits, u32::from_be_bytes(*net), *len))
        .map(|(_, _, why)| *why)
}

fn non_public_v6(ip: Ipv6Addr) -> Option<NonPublic> {
    if METADATA_V6.contains(&ip) {
        return Some(NonPublic::CloudMetadata);
    }
    if let Some(v4) = embedded_v4(ip) {
        return non_public_v4(v4);
    }
    let bits = u128::from(ip);
    if bits >> 120 == 0xff {
        return Some(NonPublic::Multicast);
    }
    if let Some((_, _, why)) = V6_RANGES
        .iter()
        .find(|(net, len, _)| prefix_matches_v6(bits, *net, *len))
    {
        return Some(*why);
    }
    // Only 2000::/3 is allocated as global unicast.
    (bits >> 125 != 0b001).then_some(NonPublic::Reserved)
}

/// The IPv4 address an IPv6 address stands for, in the forms that make a host or a
/// gateway talk IPv4: mapped (`::ffff:0:0/96`), compatible (`::/96`, but not `::` and
/// `::1`), NAT64 well-known prefix (`64:ff9b::/96`) and 6to4 (`2002::/16`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = u128::from(ip);
    let low32 = Ipv4Addr::from((bits & 0xffff_ffff) as u32);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    if bits >> 32 == 0 && bits > 1 {
        return Some(low32);
    }
    if bits >> 32 == 0x0064_ff9b_0000_0000_0000_0000 {
        return Some(low32);
    }
    if ip.segments()[0] == 0x2002 {
        return Some(Ipv4Addr::from(((bits >> 80) & 0xffff_ffff) as u32));
    }
    None
}

fn prefix_matches_v4(bits: u32, net: u32, len: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
    bits & mask == net & mask
}

fn prefix_matches_v6(bits: u128, net: u128, len: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
    bits & mask == net & mask
}

/// An IP network `address/prefix`, as an operator writes it in `allow_destinations`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    address: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// Reads `10.1.0.0/16`, `fd00::/8`, or a bare address (a network of one).
    pub fn parse(text: &str) -> Option<IpNet> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .ok()?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max)?,
            None => max,
        };
        Some(IpNet { address, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.address, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_matches_v4(u32::from(ip), u32::from(net), self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_matches_v6(u128::from(ip), u128::from(net), self.prefix)
            }
            // An IPv4 network also holds the IPv4-mapped form of its addresses.
            (IpAddr::V4(_), IpAddr::V6(ip)) => ip
                .to_ipv4_mapped()
                .is_some_and(|v4| self.contains(IpAddr::V4(v4))),
            (IpAddr::V6(_), IpAddr::V4(_)) => false,
        }
    }
}
