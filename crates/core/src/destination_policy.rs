//! Which destinations Depesha may reach. A tenant chooses every URL Depesha calls
//! (destinations, callbacks, URL-group endpoints, schedules), so without a policy a
//! tenant could make the server call its own network — the cloud metadata service,
//! an admin port on loopback — and read the answer back in the logs (SSRF).
//!
//! `depesha serve` uses [`DestinationPolicy::public_only`]: only public addresses, plus
//! what the operator lists in `allow_destinations`. Tests and `depesha dev` use the
//! default, which allows everything (local development delivers to 127.0.0.1).
//!
//! The policy is asked three times: when a URL is accepted (a literal address or a
//! well-known local name is refused with a 400), and when a delivery connects — for a
//! literal address before sending, and for a name against every address it resolves
//! to, so a name that resolves to 127.0.0.1 today is refused too (DNS rebinding).

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use url::{Host, Url};

use crate::error::{InputError, InputResult};
use crate::ip_class::{non_public, IpNet};

/// Names that mean "this machine" or "the cloud's metadata service" wherever they are
/// resolved; `*.localhost` too (RFC 6761).
const LOCAL_NAMES: [&str; 3] = ["localhost", "metadata.google.internal", "metadata.goog"];

/// One entry of `allow_destinations`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowRule {
    /// A host name, allowed with every address it resolves to.
    Host(String),
    /// `*.example.com`: every name below `example.com`.
    SubdomainsOf(String),
    /// An address or a network in CIDR notation.
    Net(IpNet),
}

impl AllowRule {
    /// Reads `10.1.0.0/16`, `127.0.0.1`, `[::1]`, `internal.example` or `*.internal.example`.
    pub fn parse(text: &str) -> InputResult<AllowRule> {
        let text = text.trim();
        if let Some(net) = IpNet::parse(text) {
            return Ok(AllowRule::Net(net));
        }
        let bad = || {
            InputError::new(format!(
                "invalid allow_destinations entry \"{text}\": expected a host name (internal.example, *.internal.example), an IP address or a network like 10.1.0.0/16"
            ))
        };
        let (wildcard, name) = match text.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let name = normalize_name(name);
        let is_name_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_';
        if name.is_empty() || name.contains('/') || !name.chars().all(is_name_char) {
            return Err(bad());
        }
        Ok(if wildcard {
            AllowRule::SubdomainsOf(name)
        } else {
            AllowRule::Host(name)
        })
    }

    fn allows_name(&self, name: &str) -> bool {
        match self {
            AllowRule::Host(host) => host == name,
            AllowRule::SubdomainsOf(parent) => name
                .strip_suffix(parent.as_str())
                .is_some_and(|head| head.ends_with('.')),
            AllowRule::Net(_) => false,
        }
    }

    fn allows_ip(&self, ip: IpAddr) -> bool {
        matches!(self, AllowRule::Net(net) if net.contains(ip))
    }
}

/// Where deliveries may go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DestinationPolicy {
    /// Refuse non-public addresses (unless allowed below). `false`: allow everything.
    public_only: bool,
    allow: Arc<[AllowRule]>,
}

impl DestinationPolicy {
    /// Every destination is allowed (tests, `depesha dev`).
    pub fn allow_all() -> Self {
        DestinationPolicy::default()
    }

    /// Public addresses only, plus what `allow` lists (`depesha serve`).
    pub fn public_only(allow: Vec<AllowRule>) -> Self {
        DestinationPolicy {
            public_only: true,
            allow: allow.into(),
        }
    }

    /// Public addresses only, plus the `allow_destinations` entries given (blank
    /// entries, as a trailing comma leaves, are skipped).
    pub fn public_only_allowing<S: AsRef<str>>(entries: &[S]) -> InputResult<Self> {
        let allow = entries
            .iter()
            .map(AsRef::as_ref)
            .filter(|entry| !entry.trim().is_empty())
            .map(AllowRule::parse)
            .collect::<InputResult<Vec<_>>>()?;
        Ok(DestinationPolicy::public_only(allow))
    }

    /// Whether this policy refuses anything at all.
    pub fn is_public_only(&self) -> bool {
        self.public_only
    }

    /// The check when a URL is accepted: a literal address, or a name that is local
    /// wherever it is resolved. Other names are checked when a delivery resolves them.
    pub fn check_url(&self, url: &Url) -> Result<(), Refusal> {
        match url.host() {
            Some(Host::Domain(name)) => self.check_name(name),
            Some(host) => self
                .check_literal(url)
                .map_err(|r| r.named(host.to_string())),
            None => Ok(()),
        }
    }

    /// The check before a delivery connects to a literal address (which is never
    /// resolved, so the resolver's check does not see it).
    pub fn check_literal(&self, url: &Url) -> Result<(), Refusal> {
        if !self.public_only {
            return Ok(()); // every delivery of `dev` comes here: skip the match
        }
        let ip = match url.host() {
            Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
            _ => return Ok(()),
        };
        self.check_ip(ip)
    }

    /// The check of one address that `name` resolved to. An allowed name may resolve
    /// to anything (that is what listing `internal.example` means).
    pub fn check_resolved(&self, name: &str, ip: IpAddr) -> Result<(), Refusal> {
        let name = normalize_name(name);
        if !self.public_only || self.allow.iter().any(|r| r.allows_name(&name)) {
            return Ok(());
        }
        self.check_ip(ip).map_err(|r| Refusal {
            host: name,
            reason: format!("it resolves to {ip}, a {}", r.reason),
        })
    }

    fn check_name(&self, name: &str) -> Result<(), Refusal> {
        let name = normalize_name(name);
        if !self.public_only || self.allow.iter().any(|r| r.allows_name(&name)) {
            return Ok(());
        }
        if LOCAL_NAMES.contains(&name.as_str()) || name.ends_with(".localhost") {
            return Err(Refusal {
                host: name,
                reason: "a name for this machine or its cloud metadata service".into(),
            });
        }
        Ok(())
    }

    fn check_ip(&self, ip: IpAddr) -> Result<(), Refusal> {
        if !self.public_only || self.allow.iter().any(|r| r.allows_ip(ip)) {
            return Ok(());
        }
        match non_public(ip) {
            Some(why) => Err(Refusal {
                host: ip.to_string(),
                reason: why.to_string(),
            }),
            None => Ok(()),
        }
    }
}

/// Why the policy refused a destination, written for the tenant who chose it and the
/// operator who can allow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The host as the URL gives it (`169.254.169.254`, `[::1]`, `localhost`).
    pub host: String,
    pub reason: String,
}

impl Refusal {
    fn named(self, host: String) -> Refusal {
        Refusal { host, ..self }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "destination {} is not allowed: {}; see allow_destinations",
            self.host, self.reason
        )
    }
}

impl std::error::Error for Refusal {}

/// Names compare in lower case and without the root's trailing dot (`localhost.`).
fn normalize_name(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}
