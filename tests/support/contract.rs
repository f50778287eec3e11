//! Every response the tests receive through [`crate::TestEnv`]'s helpers is
//! checked against the committed `openapi.json`: the operation must be
//! documented, the status listed, the body valid against the response's
//! schema (JSON Schema 2020-12), an error's code named among that status's
//! codes, and no object may carry a field the schema does not declare.
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, OnceLock};

use serde_json::Value;

/// The committed document.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        serde_json::from_str(include_str!("../../openapi.json")).expect("openapi.json parses")
    })
}

/// `(method, path template, status)` of every response checked in this
/// test process.
pub fn checked() -> BTreeSet<(String, String, u16)> {
    seen().lock().unwrap().clone()
}

fn seen() -> &'static Mutex<BTreeSet<(String, String, u16)>> {
    static SEEN: OnceLock<Mutex<BTreeSet<(String, String, u16)>>> = OnceLock::new();
    SEEN.get_or_init(Default::default)
}

/// The documented operation a request reached: `(template, operation)`.
/// The most literal template wins (`/v1/queues/{queue}/dead` over a
/// parameter in its place).
pub fn operation(method: &str, path: &str) -> Option<(String, &'static Value)> {
    let path = path.split('?').next().unwrap_or(path);
    let method = method.to_ascii_lowercase();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut best: Option<(usize, String, &Value)> = None;
    for (template, item) in document()["paths"].as_object()? {
        let Some(op) = item.get(&method) else {
            continue;
        };
        let parts: Vec<&str> = template.trim_start_matches('/').split('/').collect();
        // `/objects/{key}`: the key holds slashes.
        let rest = template == "/objects/{key}";
        let fits = if rest {
            segments.len() >= 2 && segments[0] == "objects"
        } else {
            parts.len() == segments.len()
                && parts
                    .iter()
                    .zip(&segments)
                    .all(|(p, s)| p == s || (p.starts_with('{') && !s.is_empty()))
        };
        if fits {
            let literal = parts.iter().filter(|p| !p.starts_with('{')).count();
            if best.as_ref().is_none_or(|b| literal > b.0) {
                best = Some((literal, template.clone(), op));
            }
        }
    }
    best.map(|(_, t, op)| (t, op))
}

/// Check one response; panics with what disagrees.
pub fn check(method: &str, path: &str, status: u16, body: Option<&Value>) {
    let (template, op) =
        operation(method, path).unwrap_or_else(|| panic!("{method} {path} is not in openapi.json"));
    let response = op["responses"]
        .get(status.to_string())
        .unwrap_or_else(|| panic!("{method} {template}: status {status} is not documented"));
    seen()
        .lock()
        .unwrap()
        .insert((method.to_ascii_uppercase(), template.clone(), status));
    let Some(body) = body else {
        return;
    };
    record(method, &template, status, body);
    let Some(schema) = response["content"]["application/json"].get("schema") else {
        return;
    };
    let errors = validate(schema, body);
    assert!(
        errors.is_empty(),
        "{method} {template} {status}: the body disagrees with openapi.json:\n{}\nbody: {body}",
        errors.join("\n")
    );
    // A failed request's code (a job view's `error` is the job's).
    if let Some(code) = body["error"]["code"].as_str().filter(|_| status >= 400) {
        let listed = response["description"].as_str().unwrap_or("");
        assert!(
            listed.contains(&format!("`{code}`")),
            "{method} {template} {status}: code {code} is not documented for this status \
             ({listed})"
        );
    }
}

/// With `ATELIER_CONTRACT_LOG` set, one line per checked response
/// (`METHOD template status [kind job-status]`, `EVENT type`) appended to
/// that file: which operations, kinds' results and events a whole test run
/// checked.
fn record(method: &str, template: &str, status: u16, body: &Value) {
    let job = match (body["kind"].as_str(), body["status"].as_str()) {
        (Some(kind), Some(state)) if body.get("job_id").is_some() => format!(" {kind} {state}"),
        _ => String::new(),
    };
    log_line(&format!(
        "{} {template} {status}{job}\n",
        method.to_ascii_uppercase()
    ));
}

/// Check one WebSocket event against the document's `EventEnvelope`.
pub fn check_event(event: &Value) {
    let schema = serde_json::json!({"$ref": "#/components/schemas/EventEnvelope"});
    let errors = validate(&schema, event);
    assert!(errors.is_empty(), "event {event}: {errors:?}");
    let kind = event["type"].as_str().unwrap_or("?");
    log_line(&format!("EVENT {kind}\n"));
}

fn log_line(line: &str) {
    let Some(path) = std::env::var_os("ATELIER_CONTRACT_LOG") else {
        return;
    };
    use std::io::Write;
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = file.write_all(line.as_bytes());
    }
}

/// Errors of `instance` against `schema` (references into the document's
/// components): the JSON Schema's, then fields no schema declares.
pub fn validate(schema: &Value, instance: &Value) -> Vec<String> {
    static VALIDATORS: OnceLock<Mutex<HashMap<String, std::sync::Arc<jsonschema::Validator>>>> =
        OnceLock::new();
    let key = schema.to_string();
    let validator = {
        let mut cache = VALIDATORS.get_or_init(Default::default).lock().unwrap();
        cache
            .entry(key)
            .or_insert_with(|| {
                let root = serde_json::json!({
                    "$schema": "https://json-schema.org/draft/2020-12/schema",
                    "components": document()["components"],
                    "allOf": [schema],
                });
                std::sync::Arc::new(
                    jsonschema::options()
                        .should_validate_formats(true)
                        .build(&root)
                        .expect("the response schema compiles"),
                )
            })
            .clone()
    };
    let mut errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    if errors.is_empty() {
        undeclared(std::slice::from_ref(schema), instance, "", &mut errors);
    }
    errors
}

fn resolve(schema: &Value) -> &Value {
    let mut schema = schema;
    // A chain of references ends in a schema.
    for _ in 0..16 {
        match schema["$ref"].as_str() {
            Some(r) => {
                let name = r.trim_start_matches("#/components/schemas/");
                schema = &document()["components"]["schemas"][name];
            }
            None => break,
        }
    }
    schema
}

/// Whether a `oneOf`/`anyOf` branch is ruled out by a constant the
/// instance does not have (a job view's `kind`).
fn ruled_out(branch: &Value, instance: &Value) -> bool {
    let branch = resolve(branch);
    if let Some(all) = branch["allOf"].as_array() {
        return all.iter().any(|b| ruled_out(b, instance));
    }
    branch["properties"].as_object().is_some_and(|props| {
        props.iter().any(|(k, p)| {
            let only = resolve(p)["enum"].as_array().filter(|e| e.len() == 1);
            matches!((only, instance.get(k)), (Some(e), Some(v)) if &e[0] != v)
        })
    })
}

/// The properties the schemas declare for `instance`; `None` when one is
/// a map (`additionalProperties`) and any key goes.
fn declared(
    schema: &Value,
    instance: &Value,
    out: &mut BTreeMap<String, Vec<Value>>,
) -> Option<()> {
    let schema = resolve(schema);
    if schema
        .get("additionalProperties")
        .is_some_and(|a| a != &Value::Bool(false))
    {
        return None;
    }
    if let Some(props) = schema["properties"].as_object() {
        for (k, v) in props {
            out.entry(k.clone()).or_default().push(v.clone());
        }
    }
    for all in schema["allOf"].as_array().into_iter().flatten() {
        declared(all, instance, out)?;
    }
    for key in ["oneOf", "anyOf"] {
        for branch in schema[key].as_array().into_iter().flatten() {
            if !ruled_out(branch, instance) {
                declared(branch, instance, out)?;
            }
        }
    }
    Some(())
}

fn items(schema: &Value, out: &mut Vec<Value>) {
    let schema = resolve(schema);
    if let Some(items) = schema.get("items") {
        out.push(items.clone());
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        for sub in schema[key].as_array().into_iter().flatten() {
            items(sub, out);
        }
    }
}

fn undeclared(schemas: &[Value], instance: &Value, at: &str, errors: &mut Vec<String>) {
    match instance {
        Value::Object(map) => {
            let mut props = BTreeMap::new();
            if schemas
                .iter()
                .any(|s| declared(s, instance, &mut props).is_none())
                || props.is_empty()
            {
                return;
            }
            for (k, v) in map {
                match props.get(k) {
                    Some(subs) => undeclared(subs, v, &format!("{at}/{k}"), errors),
                    None => errors.push(format!("{at}/{k}: not declared in openapi.json")),
                }
            }
        }
        Value::Array(list) => {
            let mut subs = Vec::new();
            for s in schemas {
                items(s, &mut subs);
            }
            for (i, v) in list.iter().enumerate() {
                undeclared(&subs, v, &format!("{at}/{i}"), errors);
            }
        }
        _ => {}
    }
}
