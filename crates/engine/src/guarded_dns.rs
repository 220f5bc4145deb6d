//! Name resolution for deliveries that applies the destination policy to the
//! addresses a name resolves to, right before connecting. Checking a name when it is
//! published is not enough: its DNS answer can change between publish and delivery
//! (DNS rebinding), so the addresses actually connected to are the ones checked.
//!
//! Literal addresses never reach a resolver; `delivery::prepare` checks those.

use std::net::SocketAddr;

use depesha_core::destination_policy::{DestinationPolicy, Refusal};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Resolves with the system resolver and keeps only the addresses the policy allows.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    policy: DestinationPolicy,
}

impl GuardedResolver {
    pub fn new(policy: DestinationPolicy) -> Self {
        GuardedResolver { policy }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            // Port 0: the connector puts the URL's port in.
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed = allowed_addresses(&policy, &host, resolved)?;
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(addrs)
        })
    }
}

/// The addresses of `host` that `policy` allows; the first refusal when there is none
/// (it becomes the attempt's error: "destination localhost is not allowed: it resolves
/// to 127.0.0.1, a loopback address; see allow_destinations").
fn allowed_addresses(
    policy: &DestinationPolicy,
    host: &str,
    resolved: Vec<SocketAddr>,
) -> Result<Vec<SocketAddr>, Refusal> {
    let mut first_refusal = None;
    let mut allowed = Vec::with_capacity(resolved.len());
    for addr in resolved {
        match policy.check_resolved(host, addr.ip()) {
            Ok(()) => allowed.push(addr),
            Err(refusal) => {
                first_refusal.get_or_insert(refusal);
            }
        }
    }
    match first_refusal {
        Some(refusal) if allowed.is_empty() => Err(refusal),
        _ => Ok(allowed),
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use depesha_core::destination_policy::AllowRule;

    use super::*;

    fn strict() -> DestinationPolicy {
        DestinationPolicy::public_only(Vec::new())
    }

    fn addr(text: &str) -> SocketAddr {
        text.parse().expect("a socket address")
    }

    #[tokio::test]
    async fn a_name_that_resolves_to_loopback_is_refused() {
        let name = Name::from_str("localhost").expect("a name");
        let error = match GuardedResolver::new(strict()).resolve(name).await {
            Ok(addrs) => panic!("localhost resolved to {:?}", addrs.collect::<Vec<_>>()),
            Err(e) => e.to_string(),
        };
        assert!(
            error.starts_with("destination localhost is not allowed: it resolves to ")
                && error.contains("loopback address; see allow_destinations"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn an_allowed_name_resolves_as_usual() {
        let policy =
            DestinationPolicy::public_only(vec![AllowRule::parse("localhost").expect("rule")]);
        let name = Name::from_str("localhost").expect("a name");
        let addrs: Vec<SocketAddr> = match GuardedResolver::new(policy).resolve(name).await {
            Ok(addrs) => addrs.collect(),
            Err(e) => panic!("localhost was refused: {e}"),
        };
        assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
        assert!(!addrs.is_empty());
    }

    #[test]
    fn blocked_addresses_are_dropped_and_public_ones_kept() {
        let mixed = vec![
            addr("127.0.0.1:0"),
            addr("93.184.215.14:0"),
            addr("[::1]:0"),
        ];
        assert_eq!(
            allowed_addresses(&strict(), "rebind.example", mixed),
            Ok(vec![addr("93.184.215.14:0")])
        );
        let refusal = allowed_addresses(
            &strict(),
            "rebind.example",
            vec![addr("10.0.0.1:0"), addr("[fd00::1]:0")],
        )
        .expect_err("all blocked");
        assert_eq!(
            refusal.to_string(),
            "destination rebind.example is not allowed: it resolves to 10.0.0.1, a private network address; see allow_destinations"
        );
    }
}
