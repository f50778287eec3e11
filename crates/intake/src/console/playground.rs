//! The playground: a platform team tries the API from the console with one
//! of its own API keys (kept in the page, sent only to `/v1`): upload a
//! photo (or front, side and height), pick kinds, and the page submits
//! them as one flow, follows the user's event socket and draws each
//! result as it lands (`/console/jobs/{id}/result`, the inspector's
//! drawing). A turntable of the avatar can follow it.
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse};
use maud::html;

use super::session::Session;
use super::{Page, draw, view};
use crate::error::ApiError;
use crate::state::AppState;

const PHOTO_KINDS: [(&str, &str); 6] = [
    ("vision.pose", "Pose keypoints"),
    ("vision.segment", "Person cut-out"),
    ("vision.skin_tone", "Skin tone"),
    ("vision.tag", "Garment tags and colours"),
    ("vision.embed", "Embedding"),
    ("photo.ingest", "Ingest (variants)"),
];

/// `GET /console/playground`
pub(crate) async fn page(session: Session) -> Page {
    Ok(view::page(
        &session,
        "Playground",
        "playground",
        None,
        html! {
            noscript { p.error { "The playground runs in the page: it needs JavaScript." } }
            form #playground .search aria-describedby="play-help" {
                p #play-help .wide-cell .muted {
                    "Runs real jobs as one of your API clients: the key stays in this page and goes only to the API. "
                    "The jobs are submitted as one flow for the user below."
                }
                label { span { "API key" } input type="password" name="key" autocomplete="off" required; }
                label { span { "User id" } input type="text" name="user_id" value="playground" required; }
                label { span { "Photo (front)" } input type="file" name="front" accept="image/*" required; }
                label { span { "Side photo (avatar, optional)" } input type="file" name="side" accept="image/*"; }
                label { span { "Height in cm (avatar)" } input type="number" name="height_cm" min="100" max="230" step="0.1" value="170"; }
                fieldset.kinds {
                    legend { "Jobs" }
                    @for (kind, label) in PHOTO_KINDS {
                        label.check { input type="checkbox" name="kind" value=(kind) checked[kind == "vision.pose"]; " " (label) }
                    }
                    label.check { input type="checkbox" name="kind" value="avatar.build"; " Avatar (front, side, height)" }
                    label.check { input type="checkbox" name="kind" value="render.turntable"; " Turntable of the avatar (a design)" }
                }
                div.actions { button type="submit" { "Run" } span #play-status role="status" {} }
            }
            div #play-results aria-live="polite" {}
        },
    ))
}

/// `GET /console/jobs/{id}/result`: the result drawn, as a part of a page.
pub(crate) async fn result(
    State(state): State<AppState>,
    _session: Session,
    Path(id): Path<String>,
) -> Page {
    let job = crate::jobs::load(&state, None, &id).await?;
    let Some((drawn, _)) = draw::job_result(&state, &job).await? else {
        return Err(ApiError::new(
            atelier_jobs::ErrorCode::JobNotFound,
            format!("job is {}, with no result yet", job.status),
        )
        .into());
    };
    let markup = html! {
        (drawn)
        p { a href={ "/console/jobs/" (id) } { "Inspect this job" } }
    };
    Ok(Html(markup.into_string()).into_response())
}
