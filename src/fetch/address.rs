//! Where a remote page may send huiliu: a source's own configured URL is
//! trusted (intranet feeds are a real use), but a redirect or a link found in
//! a page (article pages, next list pages) that leads to a private, loopback
//! or link-local address is refused — unless the source's own address is of
//! that same class, or the source or the target's `[[host]]` sets
//! `allow_private = true`.
//!
//! The check runs on the addresses the target's name resolves to, and the
//! connection then uses exactly those addresses ([`PinnedResolver`]), so a
//! name that changes its answer between the check and the connection (DNS
//! rebinding) gains nothing.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use url::{Host, Url};

/// How far from the public internet an address is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    Public,
    /// RFC 1918, unique-local IPv6, carrier-grade NAT, and other ranges
    /// that never route on the internet.
    Private,
    /// This machine: 127.0.0.0/8, ::1, and the unspecified 0.0.0.0 / ::.
    Loopback,
    /// 169.254.0.0/16 (cloud metadata services), fe80::/10.
    LinkLocal,
}

impl AddressClass {
    pub fn as_str(self) -> &'static str {
        match self {
            AddressClass::Public => "public",
            AddressClass::Private => "private",
            AddressClass::Loopback => "loopback",
            AddressClass::LinkLocal => "link-local",
        }
    }
}

/// Classifies an address (injectable in [`AddressGuard`] so tests on
/// 127.0.0.1 can stand one loopback address for the public internet).
pub type Classifier = Arc<dyn Fn(IpAddr) -> AddressClass + Send + Sync>;

/// The standard classification.
pub fn classify(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            if v4.is_loopback() || v4.is_unspecified() || o[0] == 0 {
                AddressClass::Loopback
            } else if v4.is_link_local() {
                AddressClass::LinkLocal
            } else if v4.is_private()
                || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64.0.0/10
                || (o[0] == 192 && o[1] == 0 && o[2] == 0) // 192.0.0.0/24
                || (o[0] == 198 && (o[1] & 0xfe) == 18) // 198.18.0.0/15
                || o[0] >= 240
                || v4.is_broadcast()
            {
                AddressClass::Private
            } else {
                AddressClass::Public
            }
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return classify(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            if v6.is_loopback() || v6.is_unspecified() {
                AddressClass::Loopback
            } else if (first & 0xffc0) == 0xfe80 {
                AddressClass::LinkLocal
            } else if (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfec0 {
                AddressClass::Private
            } else {
                AddressClass::Public
            }
        }
    }
}

/// The rule: a target address is allowed when it is public, or of the same
/// class as the source's own address (`origin`; `None` when the source's
/// name did not resolve, which trusts nothing but public addresses).
pub fn allowed(origin: Option<AddressClass>, target: AddressClass) -> bool {
    target == AddressClass::Public || Some(target) == origin
}

/// How long a checked answer is pinned for the connection that follows.
const PIN_FOR: Duration = Duration::from_secs(60);

/// Answers the HTTP client's name lookups with the addresses the guard
/// checked (for a minute), else with the system resolver.
#[derive(Default)]
pub struct PinnedResolver {
    pins: Mutex<HashMap<String, (Vec<SocketAddr>, Instant)>>,
}

impl PinnedResolver {
    fn pin(&self, host: &str, addrs: Vec<SocketAddr>) {
        if let Ok(mut pins) = self.pins.lock() {
            let now = Instant::now();
            pins.retain(|_, (_, at)| now.duration_since(*at) < PIN_FOR);
            pins.insert(host.to_ascii_lowercase(), (addrs, now));
        }
    }

    fn pinned(&self, host: &str) -> Option<Vec<SocketAddr>> {
        let pins = self.pins.lock().ok()?;
        pins.get(&host.to_ascii_lowercase())
            .filter(|(_, at)| at.elapsed() < PIN_FOR)
            .map(|(a, _)| a.clone())
    }
}

impl reqwest::dns::Resolve for PinnedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let pinned = self.pinned(name.as_str());
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs = match pinned {
                Some(a) => a,
                None => lookup(&host)
                    .await
                    .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)?,
            };
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(addrs)
        })
    }
}

async fn lookup(host: &str) -> Result<Vec<SocketAddr>, std::io::Error> {
    Ok(tokio::net::lookup_host((host, 0)).await?.collect())
}

/// Why a URL was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub address: IpAddr,
    pub class: AddressClass,
    pub origin: Option<AddressClass>,
}

/// Checks the URLs a fetch is sent to, against the source it fetches for.
#[derive(Clone)]
pub struct AddressGuard {
    classify: Classifier,
    /// `[[host]]` names (or `*.domain`) with `allow_private = true`.
    allowed_hosts: Vec<String>,
    pub(super) resolver: Arc<PinnedResolver>,
}

impl AddressGuard {
    pub fn new(allowed_hosts: Vec<String>, classify: Classifier) -> AddressGuard {
        AddressGuard {
            classify,
            allowed_hosts,
            resolver: Arc::default(),
        }
    }

    /// `Ok` when `target` may be fetched for a source configured at
    /// `trusted`: same host, an allowed host, or addresses the rule allows
    /// (then pinned for the connection).
    pub async fn check(&self, trusted: &Url, target: &Url) -> Result<(), Refusal> {
        let Some(host) = target.host() else {
            return Ok(());
        };
        if same_host(trusted, target) || self.host_allowed(target) {
            return Ok(());
        }
        let targets = match &host {
            Host::Ipv4(ip) => vec![SocketAddr::new(IpAddr::V4(*ip), 0)],
            Host::Ipv6(ip) => vec![SocketAddr::new(IpAddr::V6(*ip), 0)],
            Host::Domain(name) => match lookup(name).await {
                Ok(addrs) => addrs,
                Err(_) => {
                    // Unresolvable now: the request may not resolve it again
                    // (to a different answer); it fails as a connection error.
                    self.resolver.pin(name, Vec::new());
                    return Ok(());
                }
            },
        };
        let origin = self.origin_class(trusted).await;
        let (ok, refused): (Vec<SocketAddr>, Vec<SocketAddr>) = targets
            .into_iter()
            .partition(|a| allowed(origin, (self.classify)(a.ip())));
        if let Host::Domain(name) = &host {
            if !ok.is_empty() {
                self.resolver.pin(name, ok.clone());
            }
        }
        match (ok.is_empty(), refused.first()) {
            (true, Some(bad)) => Err(Refusal {
                address: bad.ip(),
                class: (self.classify)(bad.ip()),
                origin,
            }),
            _ => Ok(()),
        }
    }

    /// The class of the source's own address (its first resolved one).
    async fn origin_class(&self, trusted: &Url) -> Option<AddressClass> {
        let ip = match trusted.host()? {
            Host::Ipv4(ip) => IpAddr::V4(ip),
            Host::Ipv6(ip) => IpAddr::V6(ip),
            Host::Domain(name) => lookup(name).await.ok()?.first()?.ip(),
        };
        Some((self.classify)(ip))
    }

    fn host_allowed(&self, url: &Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.allowed_hosts
            .iter()
            .any(|rule| match rule.strip_prefix("*.") {
                Some(domain) => {
                    host == domain
                        || (host.ends_with(domain)
                            && host[..host.len() - domain.len()].ends_with('.'))
                }
                None => *rule == host,
            })
    }
}

/// Same host name (or address), whatever the scheme and port.
pub fn same_host(a: &Url, b: &Url) -> bool {
    match (a.host_str(), b.host_str()) {
        (Some(x), Some(y)) => x
            .trim_end_matches('.')
            .eq_ignore_ascii_case(y.trim_end_matches('.')),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn classes() {
        use AddressClass::*;
        for (a, c) in [
            ("8.8.8.8", Public),
            ("2606:4700::1111", Public),
            ("10.1.2.3", Private),
            ("172.16.0.1", Private),
            ("192.168.1.1", Private),
            ("100.64.0.1", Private),
            ("fd00::1", Private),
            ("127.0.0.1", Loopback),
            ("127.0.0.2", Loopback),
            ("::1", Loopback),
            ("0.0.0.0", Loopback),
            ("::ffff:127.0.0.1", Loopback),
            ("169.254.169.254", LinkLocal),
            ("fe80::1", LinkLocal),
            ("::ffff:10.0.0.1", Private),
        ] {
            assert_eq!(classify(ip(a)), c, "{a}");
        }
    }

    #[test]
    fn public_to_private_is_refused_same_class_is_allowed() {
        use AddressClass::*;
        assert!(allowed(Some(Public), Public));
        assert!(!allowed(Some(Public), Private));
        assert!(!allowed(Some(Public), Loopback));
        assert!(!allowed(Some(Public), LinkLocal));
        assert!(!allowed(None, Loopback));
        // An intranet source may lead within its intranet, not to this machine.
        assert!(allowed(Some(Private), Private));
        assert!(!allowed(Some(Private), Loopback));
        assert!(allowed(Some(Loopback), Loopback));
        assert!(allowed(Some(Loopback), Public));
    }

    /// 127.0.0.1 stands for the public internet, like the end-to-end tests.
    fn guard(allowed_hosts: &[&str]) -> AddressGuard {
        AddressGuard::new(
            allowed_hosts.iter().map(|s| s.to_string()).collect(),
            Arc::new(|ip: IpAddr| {
                if ip == IpAddr::from([127, 0, 0, 1]) {
                    AddressClass::Public
                } else {
                    classify(ip)
                }
            }),
        )
    }

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[tokio::test]
    async fn the_guard_checks_resolved_addresses() {
        let g = guard(&[]);
        let public = u("http://127.0.0.1:1/feed");
        assert!(g.check(&public, &u("http://127.0.0.1:2/x")).await.is_ok());
        let refused = g
            .check(&public, &u("http://127.0.0.2:2/x"))
            .await
            .unwrap_err();
        assert_eq!(refused.class, AddressClass::Loopback);
        assert_eq!(refused.origin, Some(AddressClass::Public));
        assert!(g.check(&public, &u("http://[::1]:2/x")).await.is_err());
        assert!(
            g.check(&public, &u("http://169.254.169.254/"))
                .await
                .is_err()
        );
        // With the real classes: a name is resolved first (`localhost` is
        // this machine), and a public source may not lead there. No request
        // is sent: the check only classifies.
        let real = AddressGuard::new(Vec::new(), Arc::new(classify));
        let far = u("http://93.184.215.14/feed");
        let r = real
            .check(&far, &u("http://localhost:2/x"))
            .await
            .unwrap_err();
        assert_eq!(r.class, AddressClass::Loopback);
        assert!(real.check(&far, &u("http://10.0.0.1/x")).await.is_err());
        assert!(real.check(&far, &u("http://[fe80::1]/x")).await.is_err());
        assert!(real.check(&far, &u("http://1.1.1.1/x")).await.is_ok());
        // The source's own host is trusted, whatever it resolves to.
        let intranet = u("http://127.0.0.2:1/feed");
        assert!(g.check(&intranet, &u("http://127.0.0.2:9/x")).await.is_ok());
        assert!(g.check(&intranet, &u("http://127.0.0.3:9/x")).await.is_ok());
        assert!(g.check(&intranet, &u("http://127.0.0.1:9/x")).await.is_ok());
    }

    #[tokio::test]
    async fn host_rules_allow_private_targets() {
        let g = guard(&["127.0.0.2", "*.internal.example"]);
        let public = u("http://127.0.0.1:1/feed");
        assert!(g.check(&public, &u("http://127.0.0.2:2/x")).await.is_ok());
        assert!(g.check(&public, &u("http://127.0.0.3:2/x")).await.is_err());
        assert!(g.host_allowed(&u("http://a.internal.example/")));
        assert!(g.host_allowed(&u("http://internal.example/")));
        assert!(!g.host_allowed(&u("http://xinternal.example/")));
    }
}
