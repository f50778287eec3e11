//! The OpenAPI 3.1 document: its frame (info, security schemes, tags,
//! shared components), the responses every operation of an access gives
//! whatever its handler does, and the route that serves it. The operations
//! themselves come from the route declarations (`router.rs` collects them).
use std::collections::BTreeMap;

use axum::Extension;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;
use utoipa::openapi::OpenApi as Document;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::routes;

use crate::api::CancelAnswer;
use crate::route::{Access, Route};

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = |what: &str| {
            let mut http = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build();
            http.description = Some(what.to_owned());
            SecurityScheme::Http(http)
        };
        components.add_security_scheme(
            "api_key",
            bearer("An API key (`intake.api_keys`): its client's jobs, uploads and events"),
        );
        components.add_security_scheme(
            "operator_key",
            bearer("An operator key (`intake.operator_keys`): every client's jobs and queues"),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "atelier intake",
        description = "Uploads, typed jobs, their results and events, and the operators' \
                       queue controls. Every failed response is `{\"error\": {\"code\", \
                       \"message\"}}`; each response lists the codes it may carry, and the \
                       `ErrorCode` schema gives every code's HTTP status."
    ),
    components(schemas(atelier_jobs::EventEnvelopeSchema, atelier_jobs::ErrorCode, CancelAnswer)),
    modifiers(&Security),
    tags(
        (name = "jobs", description = "Uploads, jobs and their results (API keys)"),
        (name = "flows", description = "DAGs of jobs submitted as one, results flowing into inputs (API keys)"),
        (name = "events", description = "End users' events over WebSocket"),
        (name = "search", description = "Similarity search over stored embeddings"),
        (name = "operators", description = "Queues and any client's jobs (operator keys)"),
        (name = "probes", description = "Health, readiness, metrics and this document"),
    )
)]
struct Frame;

/// Responses every operation of `access` gives whatever its handler does:
/// the bounds, authentication and rate limits, and the refusals of a JSON
/// body.
fn common_responses(access: Access, operation: &serde_json::Value) -> Vec<(u16, &'static str)> {
    let mut out = Vec::new();
    if access.bounded() {
        out.extend([(408, "request.timeout"), (503, "intake.busy")]);
    }
    match access {
        Access::Client | Access::Operator => out.extend([
            (401, "auth.missing_api_key"),
            (401, "auth.invalid_api_key"),
            (403, "auth.forbidden"),
            (429, "rate.limited"),
        ]),
        Access::Address => out.push((429, "rate.limited")),
        Access::Probe | Access::Metrics => {}
    }
    // Every JSON body is read and parsed the same way.
    if operation["requestBody"]["content"]
        .get("application/json")
        .is_some()
    {
        out.extend([
            (400, "request.malformed_json"),
            (413, "request.too_large"),
            (422, "request.invalid"),
        ]);
    }
    out
}

/// Add `code` to the operation's response for `status`: a new error
/// response, or the code appended to an existing one (whose body may then
/// be an error too).
fn add_response(operation: &mut serde_json::Value, status: u16, code: &str) {
    use serde_json::json;
    let error = json!({"$ref": "#/components/schemas/ErrorResponse"});
    let responses = &mut operation["responses"];
    let key = status.to_string();
    let named = format!("`{code}`");
    match responses.get_mut(&key) {
        None => {
            responses[&key] = json!({
                "description": named,
                "content": {"application/json": {"schema": error}},
            });
        }
        Some(response) => {
            let description = response["description"].as_str().unwrap_or("").to_owned();
            if !description.contains(&named) {
                response["description"] = json!(format!("{description}; {named}"));
            }
            let schema = &mut response["content"]["application/json"]["schema"];
            if *schema != error {
                *schema = json!({"oneOf": [schema.take(), error]});
            }
        }
    }
}

/// The document: the frame, the declared operations (`operations`, each
/// path with the access of its route), and the middleware's responses
/// added to every operation.
pub(crate) fn document(
    operations: Document,
    access: &BTreeMap<String, Access>,
) -> serde_json::Value {
    let mut doc = Frame::openapi().merge_from(operations);
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc.info.license = Some(utoipa::openapi::License::new("Apache-2.0"));
    let mut doc = serde_json::to_value(doc).expect("the document serialises");
    let paths = doc["paths"].as_object_mut().expect("paths");
    for (path, item) in paths.iter_mut() {
        let access = access[path];
        for operation in item.as_object_mut().expect("path item").values_mut() {
            for (status, code) in common_responses(access, operation) {
                add_response(operation, status, code);
            }
        }
    }
    doc
}

/// The document as committed and served (pretty JSON, a final newline),
/// handed to [`openapi_json`] by the router.
#[derive(Clone)]
pub(crate) struct Published(pub(crate) &'static str);

/// `GET /openapi.json`: this API's OpenAPI 3.1 document.
#[utoipa::path(get, path = "/openapi.json", operation_id = "getOpenApi", tag = "probes",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object)))]
async fn openapi_json(Extension(Published(text)): Extension<Published>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], text).into_response()
}

pub(crate) fn routes() -> Vec<Route> {
    vec![Route::new(Access::Probe, routes!(openapi_json))]
}
