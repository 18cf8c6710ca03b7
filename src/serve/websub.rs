//! WebSub publisher: when an output's newest page changes, tell the hub
//! (`hub.mode=publish`) for each of its formats, so subscribers get a push.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::sync::watch;
use url::Url;

use super::AppState;
use crate::publish::{self, Format};

/// Checks for changes every `every` until `stop` turns true.
pub async fn notify_loop(
    app: AppState,
    hub: Url,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let client = match reqwest::Client::builder()
        .user_agent(crate::USER_AGENT)
        .timeout(Duration::from_secs(10))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "WebSub: cannot build an HTTP client");
            return;
        }
    };
    let mut seen_generation = u64::MAX;
    // Fingerprint of each output's newest page; a change is a notification.
    let mut fingerprints: HashMap<String, [u8; 32]> = HashMap::new();
    loop {
        let generation = app.changes.load(Ordering::Acquire);
        if generation != seen_generation {
            seen_generation = generation;
            let config = app.config();
            for feed in &config.feeds {
                let Ok(crate::publish::page::Page { reports, .. }) =
                    crate::publish::page::page(app.store.as_ref(), &config, feed, 1).await
                else {
                    continue;
                };
                let mut h = Sha256::new();
                for r in &reports {
                    h.update(r.id.as_bytes());
                    h.update(r.shown.entry.content_hash.as_bytes());
                    for c in &r.copies {
                        h.update(c.entry.id.as_bytes());
                    }
                }
                let print: [u8; 32] = h.finalize().into();
                let first_look = !fingerprints.contains_key(&feed.id);
                if fingerprints.insert(feed.id.clone(), print) == Some(print) || first_look {
                    // Unchanged, or the state at start-up (nothing new to push).
                    continue;
                }
                let doc = publish::build(&config, feed, &[], 1, false);
                for format in Format::ALL {
                    let topic = doc.url_of(format);
                    let result = client
                        .post(hub.clone())
                        .form(&[("hub.mode", "publish"), ("hub.url", topic.as_str())])
                        .send()
                        .await;
                    match result {
                        Ok(r) if r.status().is_success() => {
                            tracing::info!(feed = %feed.id, topic = %topic, "WebSub hub notified")
                        }
                        Ok(r) => {
                            tracing::warn!(feed = %feed.id, hub = %crate::redact::url(&hub), status = r.status().as_u16(), "WebSub hub refused the notification")
                        }
                        Err(e) => {
                            tracing::warn!(feed = %feed.id, hub = %crate::redact::url(&hub), error = %crate::redact::text(&e.to_string()), "WebSub hub unreachable")
                        }
                    }
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}
