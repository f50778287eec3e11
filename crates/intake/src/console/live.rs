//! One server-sent-event stream per console page (`/console/live?view=…`).
//! Every page showing the same view with the same role shares one renderer:
//! it draws the view's live parts at most once a second, and only parts
//! that changed go out. The renderer stops when its last page closes (the
//! page's script closes its stream while the tab is hidden).
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde::Deserialize;
use tokio::sync::watch;
use uuid::Uuid;

use super::session::{Role, Session};
use super::{ConsoleError, flows, jobs, queues};
use crate::error::ApiError;
use crate::live::{Parts, Patch};
use crate::state::AppState;

/// How often a view is drawn again while someone watches it.
const EVERY: Duration = Duration::from_secs(1);

/// How often a stream checks that its session is still open.
const SESSION_CHECK: Duration = Duration::from_secs(30);

/// One page's stream: the view it follows, what it has sent of each part,
/// events ready to go, and its session (checked now and then).
struct Follow {
    receiver: watch::Receiver<Parts>,
    sent: HashMap<String, Patch>,
    ready: Vec<Event>,
    state: AppState,
    session: Session,
    checked: tokio::time::Instant,
}

/// The views a page can follow.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum View {
    Queues,
    Queue(String),
    Job(Uuid),
    Flow(Uuid),
}

impl View {
    fn parse(state: &AppState, text: &str) -> Option<View> {
        match text.split_once(':') {
            None if text == "queues" => Some(View::Queues),
            Some(("queue", name)) if state.queue(name).is_some() => {
                Some(View::Queue(name.to_owned()))
            }
            Some(("job", id)) => id.parse().ok().map(View::Job),
            Some(("flow", id)) => id.parse().ok().map(View::Flow),
            _ => None,
        }
    }
}

async fn render(state: &AppState, view: &View, role: Role) -> Result<Vec<Patch>, ConsoleError> {
    // Live parts carry no form token (it is the session's own): the page's
    // script fills the token into forms that arrive this way.
    let session = Session::for_role(role);
    match view {
        View::Queues => queues::live_overview(state, &session).await,
        View::Queue(name) => queues::live_detail(state, &session, name).await,
        View::Job(id) => jobs::live_job(state, &session, *id).await,
        View::Flow(id) => flows::live_flow(state, &session, *id).await,
    }
}

/// Watch `view` for `role`, starting its drawer when nobody watches it.
fn watch(state: &AppState, view: View, role: Role) -> watch::Receiver<Parts> {
    let key = format!("{}|{view:?}", role.as_str());
    state.live.watch(&key.clone(), |sender| {
        let state = state.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if state.live.unwatched(&key, &sender) {
                    return;
                }
                match render(&state, &view, role).await {
                    Ok(parts) => {
                        sender.send_if_modified(|current| {
                            let changed = **current != parts;
                            if changed {
                                *current = Arc::new(parts);
                            }
                            changed
                        });
                    }
                    Err(error) => {
                        tracing::debug!(?view, code = error.0.code.as_str(), "live view not drawn")
                    }
                }
            }
        });
    })
}

#[derive(Deserialize)]
pub(crate) struct LiveQuery {
    view: String,
}

/// `GET /console/live?view=queues|queue:NAME|job:ID|flow:ID`: `patch`
/// events, each one part of the page that changed.
pub(crate) async fn stream(
    State(state): State<AppState>,
    session: Session,
    Query(query): Query<LiveQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ConsoleError> {
    let view = View::parse(&state, &query.view).ok_or_else(|| {
        ConsoleError(ApiError::invalid(
            "view: queues, queue:NAME, job:ID or flow:ID",
        ))
    })?;
    let mut receiver = watch(&state, view, session.role);
    receiver.mark_changed();
    let follow = Follow {
        receiver,
        sent: HashMap::new(),
        ready: Vec::new(),
        state,
        session,
        checked: tokio::time::Instant::now(),
    };
    let stream = futures_util::stream::unfold(follow, |mut f| async move {
        loop {
            if let Some(event) = f.ready.pop() {
                return Some((Ok(event), f));
            }
            // A signed-out or expired session's stream ends (checked at
            // most every SESSION_CHECK).
            let changed = tokio::time::timeout(SESSION_CHECK, f.receiver.changed()).await;
            if f.checked.elapsed() >= SESSION_CHECK {
                if !f.session.still_open(&f.state).await {
                    return None;
                }
                f.checked = tokio::time::Instant::now();
            }
            match changed {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return None,
                Err(_) => continue,
            }
            let parts = f.receiver.borrow_and_update().clone();
            for part in parts.iter() {
                if f.sent.get(&part.id) != Some(part) {
                    f.sent.insert(part.id.clone(), part.clone());
                    if let Ok(event) = Event::default().event("patch").json_data(part) {
                        f.ready.insert(0, event);
                    }
                }
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
