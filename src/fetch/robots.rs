//! robots.txt (RFC 9309): the group for our product token (else `*`), the
//! longest matching rule wins, `Allow` on a tie; `*` and `$` in paths.

/// A group: its user agents and its (allow, pattern) rules.
type Group = (Vec<String>, Vec<(bool, String)>);

/// The rules of one robots.txt that apply to huiliu.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Robots {
    /// (allow, path pattern), from the group that applies.
    rules: Vec<(bool, String)>,
}

impl Robots {
    /// Everything allowed (no robots.txt, or a 4xx answer).
    pub fn allow_all() -> Robots {
        Robots::default()
    }

    /// Nothing allowed (robots.txt unreachable: 5xx).
    pub fn deny_all() -> Robots {
        Robots {
            rules: vec![(false, "/".into())],
        }
    }

    /// Parses robots.txt for the user agent whose product token is `agent`
    /// (e.g. `huiliu`).
    pub fn parse(text: &str, agent: &str) -> Robots {
        let agent = agent.to_ascii_lowercase();
        // Groups: (agents, rules); consecutive user-agent lines share a group.
        let mut groups: Vec<Group> = Vec::new();
        let mut in_agents = false;
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let key = key.trim().to_ascii_lowercase();
            let value = value.trim();
            match key.as_str() {
                "user-agent" => {
                    if !in_agents {
                        groups.push((Vec::new(), Vec::new()));
                        in_agents = true;
                    }
                    if let Some(g) = groups.last_mut() {
                        g.0.push(value.to_ascii_lowercase());
                    }
                }
                "allow" | "disallow" => {
                    in_agents = false;
                    if let Some(g) = groups.last_mut() {
                        // An empty Disallow allows everything: no rule.
                        if !value.is_empty() {
                            g.1.push((key == "allow", value.to_string()));
                        }
                    }
                }
                _ => in_agents = false,
            }
        }
        let ours: Vec<(bool, String)> = groups
            .iter()
            .filter(|(agents, _)| {
                agents
                    .iter()
                    .any(|a| a != "*" && agent.contains(a.as_str()))
            })
            .flat_map(|(_, r)| r.iter().cloned())
            .collect();
        let rules = if groups.iter().any(|(agents, _)| {
            agents
                .iter()
                .any(|a| a != "*" && agent.contains(a.as_str()))
        }) {
            ours
        } else {
            groups
                .iter()
                .filter(|(agents, _)| agents.iter().any(|a| a == "*"))
                .flat_map(|(_, r)| r.iter().cloned())
                .collect()
        };
        Robots { rules }
    }

    /// Whether `path` (path and query of a URL) may be fetched.
    pub fn allows(&self, path: &str) -> bool {
        if path == "/robots.txt" {
            return true;
        }
        let mut best: Option<(usize, bool)> = None;
        for (allow, pattern) in &self.rules {
            if matches(pattern, path) {
                let len = pattern.len();
                best = match best {
                    Some((l, a)) if l > len || (l == len && a) => Some((l, a)),
                    _ => Some((len, *allow)),
                };
            }
        }
        best.is_none_or(|(_, allow)| allow)
    }
}

/// Robots pattern match: prefix match, `*` any run, `$` end of path.
fn matches(pattern: &str, path: &str) -> bool {
    let (pattern, anchored) = match pattern.strip_suffix('$') {
        Some(p) => (p, true),
        None => (pattern, false),
    };
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut pos = 0;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            if !path.starts_with(part) {
                return false;
            }
            pos = part.len();
            continue;
        }
        let last = i == parts.len() - 1;
        if last && anchored {
            return path.len() >= pos + part.len() && path.ends_with(part);
        }
        match path[pos..].find(part) {
            Some(at) => pos += at + part.len(),
            None => return false,
        }
    }
    !anchored || pos == path.len() || parts.len() > 1 && parts.last() == Some(&"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_group_else_star_longest_rule_wins() {
        let txt = "User-agent: *\nDisallow: /private/\nAllow: /private/open\n\nUser-agent: otherbot\nDisallow: /\n";
        let r = Robots::parse(txt, "huiliu");
        assert!(r.allows("/news/a.html"));
        assert!(!r.allows("/private/x.html"));
        assert!(r.allows("/private/open/x.html"));
        let txt = "User-agent: huiliu\nUser-agent: feedbot\nDisallow: /hutang/2024\n\nUser-agent: *\nDisallow: /\n";
        let r = Robots::parse(txt, "huiliu/0.1.0 (+https://x)");
        assert!(r.allows("/hutang/index.html"));
        assert!(!r.allows("/hutang/202401/a.html"));
    }

    #[test]
    fn wildcards_and_anchors() {
        let r = Robots::parse(
            "User-agent: *\nDisallow: /*.pdf$\nDisallow: /a*/print\nDisallow:\n",
            "huiliu",
        );
        assert!(!r.allows("/docs/x.pdf"));
        assert!(r.allows("/docs/x.pdf?download=1"));
        assert!(!r.allows("/abc/print"));
        assert!(r.allows("/b/print"));
        assert!(Robots::allow_all().allows("/x"));
        assert!(!Robots::deny_all().allows("/x"));
        assert!(Robots::parse("", "huiliu").allows("/x"));
    }
}
