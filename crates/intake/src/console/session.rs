//! Signing in to the console: an operator or viewer key, presented once in
//! a form, opens a session in PostgreSQL; the browser holds only a random
//! token in an HttpOnly, SameSite=Strict cookie (Secure behind TLS), the
//! table only its SHA-256. Every action carries the session's form token
//! (CSRF) and needs the `operator` role.
use atelier_jobs::ErrorCode;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{ConsoleError, Page, view};
use crate::error::ApiError;
use crate::state::AppState;

const COOKIE: &str = "atelier_console";

/// What a signed-in browser may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Role {
    /// Sees everything, acts on nothing.
    Viewer,
    /// Sees and acts.
    Operator,
}

impl Role {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
        }
    }
}

/// The signed-in browser of a request.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub operator: String,
    pub role: Role,
    pub csrf: String,
    pub address: Option<String>,
    token_hash: Vec<u8>,
}

impl Session {
    /// What a live part is drawn for: the role's view, without the
    /// session's own token (the page fills it in).
    pub(crate) fn for_role(role: Role) -> Session {
        Session {
            operator: String::new(),
            role,
            csrf: String::new(),
            address: None,
            token_hash: Vec::new(),
        }
    }

    /// Whether the session is still open (not signed out, not expired):
    /// a live stream asks now and then, and ends when it is not.
    pub(crate) async fn still_open(&self, state: &AppState) -> bool {
        !matches!(
            atelier_db::console::session(&state.pool, &self.token_hash).await,
            Ok(None)
        )
    }

    pub(crate) fn can_act(&self) -> bool {
        self.role == Role::Operator
    }
}

fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn cookie_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

fn address(state: &AppState, parts: &Parts) -> Option<String> {
    // `client_address` reads a request; rebuild the little it needs.
    let mut probe = Request::new(axum::body::Body::empty());
    *probe.headers_mut() = parts.headers.clone();
    if let Some(info) = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
    {
        probe.extensions_mut().insert(*info);
    }
    crate::guard::client_address(state, &probe)
}

impl FromRequestParts<AppState> for Session {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ConsoleError> {
        let signed_out = || ConsoleError(ApiError::new(ErrorCode::AuthSignedOut, "sign in"));
        let token = cookie_token(&parts.headers).ok_or_else(signed_out)?;
        let token_hash = hash(token);
        let stored = atelier_db::console::session(&state.pool, &token_hash)
            .await?
            .ok_or_else(signed_out)?;
        Ok(Session {
            operator: stored.operator,
            role: if stored.role == "operator" {
                Role::Operator
            } else {
                Role::Viewer
            },
            csrf: stored.csrf,
            address: address(state, parts),
            token_hash,
        })
    }
}

/// A form posted by a signed-in browser: its fields, in order.
pub(crate) struct Form(pub Vec<(String, String)>);

impl Form {
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.trim().is_empty())
    }

    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

async fn read_form(state: &AppState, request: Request) -> Result<Form, ConsoleError> {
    let limit = state.config.intake.max_json_bytes as usize;
    let bytes = crate::extract::read_body(request, limit, ErrorCode::RequestTooLarge).await?;
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes)
        .map_err(|_| ApiError::invalid("the form could not be read"))?;
    Ok(Form(fields))
}

/// A request from another site: its `Origin` (or `Sec-Fetch-Site`) says so.
fn cross_site(headers: &HeaderMap) -> bool {
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if matches!(site, Some("cross-site" | "same-site")) {
        return true;
    }
    let (Some(origin), Some(host)) = (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get(header::HOST).and_then(|v| v.to_str().ok()),
    ) else {
        return false;
    };
    let origin_host = origin.split_once("://").map_or(origin, |(_, h)| h);
    origin != "null" && origin_host != host
}

/// The form of an action: refused (`auth.csrf`) without the session's form
/// token or from another site; refused (`auth.forbidden`) for a viewer
/// unless `anyone` (signing out).
pub(crate) async fn action(
    state: &AppState,
    session: &Session,
    request: Request,
    anyone: bool,
) -> Result<Form, ConsoleError> {
    let forged = cross_site(request.headers());
    let form = read_form(state, request).await?;
    let presented = form.get("_csrf").unwrap_or("");
    if forged || !bool::from(presented.as_bytes().ct_eq(session.csrf.as_bytes())) {
        tracing::warn!(
            operator = session.operator,
            "console action without its form token"
        );
        return Err(ConsoleError(ApiError::new(
            ErrorCode::AuthCsrf,
            "this action did not come from a console page (its form token is missing or wrong); reload the page",
        )));
    }
    if !anyone && !session.can_act() {
        return Err(ConsoleError(ApiError::new(
            ErrorCode::AuthForbidden,
            "a viewer sees; only an operator acts",
        )));
    }
    Ok(form)
}

/// Write the audit log's line for an action (a failure to write it fails
/// the request: an action nobody can account for is not taken silently).
pub(crate) async fn record(
    state: &AppState,
    session: &Session,
    action: &str,
    queue: Option<&str>,
    job_ids: &[uuid::Uuid],
    detail: serde_json::Value,
) -> Result<(), ConsoleError> {
    atelier_db::console::audit(
        &state.pool,
        atelier_db::console::NewAudit {
            operator: &session.operator,
            role: session.role.as_str(),
            action,
            queue,
            job_ids,
            detail,
            address: session.address.as_deref(),
        },
    )
    .await?;
    tracing::info!(
        operator = session.operator,
        action,
        queue,
        jobs = job_ids.len(),
        "console action"
    );
    Ok(())
}

pub(crate) async fn sign_in_page() -> Response {
    view::sign_in(None).into_response()
}

fn cookie(state: &AppState, headers: &HeaderMap, value: &str, max_age: i64) -> HeaderValue {
    let secure = state.config.intake.console_secure_cookie
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    let text = format!(
        "{COOKIE}={value}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&text).expect("a token is URL-safe base64")
}

/// `POST /console/sign-in` `key=…`: an operator key signs in as operator,
/// a viewer key as viewer; a wrong key spends from the address's bucket
/// (guessing ends in 429) and says so on the form.
pub(crate) async fn sign_in(State(state): State<AppState>, request: Request) -> Page {
    let headers = request.headers().clone();
    let address = crate::guard::client_address(&state, &request);
    if cross_site(&headers) {
        return Err(ConsoleError(ApiError::new(
            ErrorCode::AuthCsrf,
            "sign in from the console's own page",
        )));
    }
    let form = read_form(&state, request).await?;
    let key = form.get("key").unwrap_or("").trim().to_owned();
    let found = match state.operator_keys.check(&key) {
        Some(name) => Some((name, Role::Operator)),
        None => state
            .viewer_keys
            .check(&key)
            .map(|name| (name, Role::Viewer)),
    };
    let Some((name, role)) = found else {
        crate::guard::limit_address(&state, address.as_deref()).await?;
        let mut page =
            view::sign_in(Some("That key is not an operator's or a viewer's.")).into_response();
        *page.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
        page.headers_mut().insert(
            "x-error-code",
            HeaderValue::from_static("auth.invalid_api_key"),
        );
        return Ok(page);
    };
    let token = random_token();
    let ttl = state.config.intake.console_session_ttl.get();
    let expires_at =
        chrono::Utc::now() + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::hours(12));
    let session = atelier_db::console::Session {
        operator: name.0.clone(),
        role: role.as_str().to_owned(),
        csrf: random_token(),
        expires_at,
    };
    atelier_db::console::open_session(&state.pool, &hash(&token), &session, address.as_deref())
        .await?;
    let signed = Session {
        operator: name.0,
        role,
        csrf: session.csrf,
        address,
        token_hash: hash(&token),
    };
    record(&state, &signed, "sign_in", None, &[], serde_json::json!({})).await?;
    let mut response = Redirect::to("/console/queues").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        cookie(&state, &headers, &token, ttl.as_secs() as i64),
    );
    Ok(response)
}

/// `POST /console/sign-out`: the session ends here and in the table.
pub(crate) async fn sign_out(
    State(state): State<AppState>,
    session: Session,
    request: Request,
) -> Page {
    let headers = request.headers().clone();
    action(&state, &session, request, true).await?;
    record(
        &state,
        &session,
        "sign_out",
        None,
        &[],
        serde_json::json!({}),
    )
    .await?;
    atelier_db::console::close_session(&state.pool, &session.token_hash).await?;
    let mut response = Redirect::to("/console/sign-in").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie(&state, &headers, "", 0));
    Ok(response)
}
