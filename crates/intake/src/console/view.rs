//! The console's page shell and the small pieces every page draws with
//! (times, durations, status badges, the form token).
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::assets;
use super::session::Session;

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            link rel="icon" href="data:,";
            title { (title) " · Atelier console" }
            link rel="stylesheet" href=(assets::url("console.css"));
            script src=(assets::url("console.js")) defer {}
        }
    }
}

/// A page of the console: the navigation, who is signed in, `content`;
/// `live` names the view whose parts the page's one event stream updates.
pub(crate) fn page(
    session: &Session,
    title: &str,
    active: &str,
    live: Option<&str>,
    content: Markup,
) -> Response {
    let nav: [(&str, &str, &str); 5] = [
        ("queues", "/console/queues", "Queues"),
        ("jobs", "/console/jobs", "Jobs"),
        ("flows", "/console/flows", "Flows"),
        ("playground", "/console/playground", "Playground"),
        ("audit", "/console/audit", "Audit log"),
    ];
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body data-live=[live] {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/console/queues" { "Atelier" }
                    nav aria-label="Console" {
                        ul {
                            @for (id, href, label) in nav {
                                li {
                                    @if id == active {
                                        a href=(href) aria-current="page" { (label) }
                                    } @else {
                                        a href=(href) { (label) }
                                    }
                                }
                            }
                        }
                    }
                    div.who {
                        span { (session.operator) " · " span.role { (session.role.as_str()) } }
                        form method="post" action="/console/sign-out" {
                            (csrf(session))
                            button.link type="submit" { "Sign out" }
                        }
                    }
                }
                main #main tabindex="-1" {
                    h1 { (title) }
                    (content)
                }
                (data("console-assets", &assets::script_urls()))
            }
        }
    };
    Html(markup.into_string()).into_response()
}

/// The hidden form token every action carries.
pub(crate) fn csrf(session: &Session) -> Markup {
    html! { input type="hidden" name="_csrf" value=(session.csrf); }
}

pub(crate) fn sign_in(error: Option<&str>) -> Html<String> {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head("Sign in"))
            body.signin {
                main #main {
                    h1 { "Atelier console" }
                    form.card method="post" action="/console/sign-in" {
                        @if let Some(error) = error {
                            p.error role="alert" { (error) }
                        }
                        label for="key" { "Operator or viewer key" }
                        input #key name="key" type="password" autocomplete="current-password" required autofocus;
                        button type="submit" { "Sign in" }
                    }
                }
            }
        }
    };
    Html(markup.into_string())
}

pub(crate) fn error_page(status: StatusCode, code: &str, message: &str) -> Html<String> {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head("Error"))
            body {
                main #main {
                    h1 { (status.as_u16()) " " (status.canonical_reason().unwrap_or("")) }
                    p.error role="alert" { code.code { (code) } ": " (message) }
                    p { a href="/console/queues" { "Back to the console" } }
                }
            }
        }
    };
    Html(markup.into_string())
}

/// A moment, readable and machine-readable.
pub(crate) fn time(at: DateTime<Utc>) -> Markup {
    html! {
        time datetime=(at.to_rfc3339()) { (at.format("%Y-%m-%d %H:%M:%S")) }
    }
}

pub(crate) fn maybe_time(at: Option<DateTime<Utc>>) -> Markup {
    match at {
        Some(at) => time(at),
        None => html! { span.muted { "—" } },
    }
}

/// `1.2 s`, `340 ms`, `3 min 5 s`, `2 h 10 min`.
pub(crate) fn duration_ms(ms: f64) -> String {
    if !ms.is_finite() || ms < 0.0 {
        return "—".into();
    }
    if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else if ms < 60_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else if ms < 3_600_000.0 {
        let s = (ms / 1000.0) as u64;
        format!("{} min {} s", s / 60, s % 60)
    } else {
        let m = (ms / 60_000.0) as u64;
        format!("{} h {} min", m / 60, m % 60)
    }
}

pub(crate) fn between(from: DateTime<Utc>, to: Option<DateTime<Utc>>) -> String {
    match to {
        Some(to) => duration_ms((to - from).num_milliseconds() as f64),
        None => "running".into(),
    }
}

/// A status with its colour (and its word: colour is never the only cue).
pub(crate) fn status(status: &str) -> Markup {
    html! { span class={ "status s-" (status) } { (status) } }
}

/// A flash line after an action (`?done=…`).
pub(crate) fn flash(done: Option<&str>) -> Markup {
    html! {
        @if let Some(done) = done {
            p.flash role="status" { (done) }
        }
    }
}

/// Pretty JSON in a block.
pub(crate) fn json(value: &serde_json::Value) -> Markup {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    html! { pre.json { code { (text) } } }
}

/// Data for the page's script, inert (`application/json` is never run).
pub(crate) fn data(id: &str, value: &serde_json::Value) -> Markup {
    // `</` cannot close the element early once escaped as `<\/`.
    let text = value.to_string().replace("</", "<\\/");
    html! { script type="application/json" id=(id) { (PreEscaped(text)) } }
}

/// A table's column heading.
pub(crate) enum Col {
    Text(&'static str),
    /// Numbers, aligned right.
    Num(&'static str),
    /// Read to screen readers only (a column of buttons or checkboxes).
    Unseen(&'static str),
}

/// A table's heading row.
pub(crate) fn header(columns: &[Col]) -> Markup {
    html! {
        thead { tr {
            @for column in columns {
                @match column {
                    Col::Text(label) => th scope="col" { (label) },
                    Col::Num(label) => th.num scope="col" { (label) },
                    Col::Unseen(label) => th scope="col" { span.sr { (label) } },
                }
            }
        } }
    }
}
