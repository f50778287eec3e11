//! Views drawn once for every page that shows them: the console's live
//! parts (`console/live.rs` draws them). A view runs while someone watches
//! it; here only the registry of those running, so the state holds it
//! without knowing any page.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use maud::Markup;
use serde::Serialize;
use tokio::sync::watch;

/// One live part of a page: its HTML (`data-region`), or data for its
/// script (a chart's point).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Patch {
    pub(crate) id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    html: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<serde_json::Value>,
}

impl Patch {
    pub(crate) fn html(id: &str, markup: Markup) -> Patch {
        Patch {
            id: id.to_owned(),
            html: Some(markup.into_string()),
            data: None,
        }
    }

    pub(crate) fn data(id: &str, data: serde_json::Value) -> Patch {
        Patch {
            id: id.to_owned(),
            html: None,
            data: Some(data),
        }
    }
}

pub(crate) type Parts = Arc<Vec<Patch>>;

/// The views being drawn, by key.
#[derive(Default)]
pub(crate) struct LiveViews {
    running: Mutex<HashMap<String, watch::Sender<Parts>>>,
}

impl LiveViews {
    /// Watch view `key`, calling `start` with its sender when nobody did.
    pub(crate) fn watch(
        &self,
        key: &str,
        start: impl FnOnce(watch::Sender<Parts>),
    ) -> watch::Receiver<Parts> {
        let mut running = self.running.lock().expect("live views");
        if let Some(sender) = running.get(key) {
            return sender.subscribe();
        }
        let (sender, receiver) = watch::channel(Arc::new(Vec::new()));
        running.insert(key.to_owned(), sender.clone());
        start(sender);
        receiver
    }

    /// Whether view `key` lost its last watcher (then it is forgotten and
    /// its drawer should stop); decided under the registry's lock, so a new
    /// watcher either finds it running or starts it again.
    pub(crate) fn unwatched(&self, key: &str, sender: &watch::Sender<Parts>) -> bool {
        let mut running = self.running.lock().expect("live views");
        if sender.receiver_count() == 0 {
            running.remove(key);
            return true;
        }
        false
    }
}
