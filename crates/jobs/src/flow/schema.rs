//! The kinds' input and result schemas as JSON (what the published document
//! says), walked to check a reference's types at submission: the pointer
//! must exist in the referenced kind's result, and what it points at must
//! fit the input field the reference stands in.
use std::collections::HashMap;

use serde_json::Value;

use crate::{JobKind, Schemas, kind_contracts};

/// A step into a JSON value: an object's key or an array's index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Key(String),
    Index(usize),
}

impl Step {
    /// The steps of a JSON Pointer (RFC 6901: `/a/0/b`, `~1` for `/`,
    /// `~0` for `~`); `None` when it is not one.
    pub fn parse_pointer(pointer: &str) -> Option<Vec<Step>> {
        if pointer.is_empty() {
            return Some(Vec::new());
        }
        let rest = pointer.strip_prefix('/')?;
        rest.split('/')
            .map(|token| {
                let key = token.replace("~1", "/").replace("~0", "~");
                match key.parse::<usize>() {
                    Ok(i) if key == i.to_string() => Some(Step::Index(i)),
                    _ => Some(Step::Key(key)),
                }
            })
            .collect()
    }

    /// `input.a.items[0]`-style text for messages, after `prefix`.
    pub fn describe(prefix: &str, steps: &[Step]) -> String {
        let mut out = prefix.to_owned();
        for step in steps {
            match step {
                Step::Key(k) => {
                    out.push('.');
                    out.push_str(k);
                }
                Step::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        out
    }
}

/// JSON types a value may have, as bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Types(u8);

impl Types {
    const NULL: u8 = 1;
    const BOOLEAN: u8 = 2;
    const INTEGER: u8 = 4;
    const NUMBER: u8 = 8;
    const STRING: u8 = 16;
    const ARRAY: u8 = 32;
    const OBJECT: u8 = 64;
    const ANY: Types = Types(127);

    fn named(name: &str) -> Types {
        Types(match name {
            "null" => Types::NULL,
            "boolean" => Types::BOOLEAN,
            "integer" => Types::INTEGER,
            // An integer is a number too.
            "number" => Types::NUMBER | Types::INTEGER,
            "string" => Types::STRING,
            "array" => Types::ARRAY,
            "object" => Types::OBJECT,
            _ => 0,
        })
    }

    fn of(value: &Value) -> Types {
        Types(match value {
            Value::Null => Types::NULL,
            Value::Bool(_) => Types::BOOLEAN,
            Value::Number(n) if n.is_i64() || n.is_u64() => Types::INTEGER,
            Value::Number(_) => Types::NUMBER,
            Value::String(_) => Types::STRING,
            Value::Array(_) => Types::ARRAY,
            Value::Object(_) => Types::OBJECT,
        })
    }

    fn names(self) -> String {
        let names = [
            (Types::NULL, "null"),
            (Types::BOOLEAN, "boolean"),
            (Types::NUMBER, "number"),
            (Types::STRING, "string"),
            (Types::ARRAY, "array"),
            (Types::OBJECT, "object"),
        ];
        let mut out: Vec<&str> = names
            .iter()
            .filter(|(bit, _)| self.0 & bit != 0)
            .map(|(_, n)| *n)
            .collect();
        if self.0 & Types::INTEGER != 0 && self.0 & Types::NUMBER == 0 {
            out.push("integer");
        }
        out.join(" or ")
    }
}

/// The kinds' schemas, by kind, as the document publishes them.
pub struct KindSchemas {
    components: HashMap<String, Value>,
    inputs: HashMap<JobKind, String>,
    results: HashMap<JobKind, String>,
}

impl Default for KindSchemas {
    fn default() -> Self {
        KindSchemas::new()
    }
}

impl KindSchemas {
    pub fn new() -> KindSchemas {
        let mut schemas = Schemas::new();
        let contracts = kind_contracts(&mut schemas);
        let components = schemas
            .into_iter()
            .map(|(name, schema)| {
                let value = serde_json::to_value(schema).expect("schemas serialise");
                (name, value)
            })
            .collect();
        KindSchemas {
            components,
            inputs: contracts
                .iter()
                .map(|c| (c.kind, c.input.clone()))
                .collect(),
            results: contracts
                .iter()
                .map(|c| (c.kind, c.result.clone()))
                .collect(),
        }
    }

    /// Why a value at `pointer` in a `from` result cannot stand at `at` in
    /// a `to` input (`None`: it can).
    pub fn misfit(
        &self,
        from: JobKind,
        pointer: &[Step],
        to: JobKind,
        at: &[Step],
    ) -> Option<String> {
        let result = self.named(&self.results[&from]);
        let sources = self.at_path(result, pointer);
        if sources.is_empty() {
            return Some(format!("no such field in a {from} result"));
        }
        let input = self.named(&self.inputs[&to]);
        let targets = self.at_path(input, at);
        if targets.is_empty() {
            return Some(format!("no such field in a {to} input"));
        }
        let given = self.types(&sources);
        let wanted = self.types(&targets);
        // A null in the result (an optional field) fails when resolved, not
        // here: the field may well be there.
        let given_values = Types(given.0 & !Types::NULL);
        if given_values.0 == 0 || given_values.0 & !wanted.0 != 0 {
            return Some(format!(
                "a {from} result has {} there, the {to} input wants {}",
                given.names(),
                wanted.names()
            ));
        }
        if given_values.0 & Types::STRING != 0
            && let Some(formats) = self.string_formats(&targets)
        {
            let given_formats = self.string_formats(&sources).unwrap_or_default();
            if given_formats.is_empty() || !given_formats.iter().all(|f| formats.contains(f)) {
                return Some(format!(
                    "the {to} input wants a string of format {}, a {from} result has {}",
                    formats.join(" or "),
                    if given_formats.is_empty() {
                        "any string".to_owned()
                    } else {
                        format!("format {}", given_formats.join(" or "))
                    }
                ));
            }
        }
        None
    }

    fn named(&self, name: &str) -> &Value {
        self.components
            .get(name)
            .unwrap_or_else(|| panic!("schema {name} is collected"))
    }

    /// `schema` with its `$ref`s followed.
    fn deref<'a>(&'a self, mut schema: &'a Value) -> &'a Value {
        for _ in 0..32 {
            match schema.get("$ref").and_then(Value::as_str) {
                Some(r) => {
                    let name = r.rsplit('/').next().unwrap_or(r);
                    match self.components.get(name) {
                        Some(next) => schema = next,
                        None => return schema,
                    }
                }
                None => return schema,
            }
        }
        schema
    }

    /// The schemas without alternatives that `schema` admits (its `oneOf`,
    /// `anyOf` and `allOf` branches flattened, `$ref`s followed).
    fn leaves<'a>(&'a self, schema: &'a Value, out: &mut Vec<&'a Value>) {
        let schema = self.deref(schema);
        let mut branched = false;
        for key in ["oneOf", "anyOf", "allOf"] {
            if let Some(branches) = schema.get(key).and_then(Value::as_array) {
                branched = true;
                for branch in branches {
                    self.leaves(branch, out);
                }
            }
        }
        if !branched {
            out.push(schema);
        }
    }

    /// Every schema a value at `path` under `schema` may meet (none: the
    /// path leads nowhere the schema allows).
    fn at_path<'a>(&'a self, schema: &'a Value, path: &[Step]) -> Vec<&'a Value> {
        let mut here = Vec::new();
        self.leaves(schema, &mut here);
        for step in path {
            let mut next = Vec::new();
            for s in here {
                let child = match step {
                    Step::Key(k) => s
                        .get("properties")
                        .and_then(|p| p.get(k))
                        .or_else(|| s.get("additionalProperties").filter(|a| a.is_object())),
                    Step::Index(i) => s.get("items").or_else(|| {
                        s.get("properties")
                            .and_then(|p| p.get(i.to_string()))
                            .or_else(|| s.get("additionalProperties").filter(|a| a.is_object()))
                    }),
                };
                if let Some(child) = child {
                    self.leaves(child, &mut next);
                }
            }
            here = next;
        }
        here
    }

    fn types(&self, leaves: &[&Value]) -> Types {
        let mut types = 0;
        for leaf in leaves {
            types |= match leaf.get("type") {
                Some(Value::String(name)) => Types::named(name).0,
                Some(Value::Array(names)) => names
                    .iter()
                    .filter_map(Value::as_str)
                    .fold(0, |t, n| t | Types::named(n).0),
                _ => match (
                    leaf.get("const"),
                    leaf.get("enum").and_then(Value::as_array),
                ) {
                    (Some(c), _) => Types::of(c).0,
                    (None, Some(values)) => values.iter().fold(0, |t, v| t | Types::of(v).0),
                    (None, None) => Types::ANY.0,
                },
            };
        }
        Types(types)
    }

    /// The formats every string alternative among `leaves` declares;
    /// `None` when some string alternative takes any string.
    fn string_formats(&self, leaves: &[&Value]) -> Option<Vec<String>> {
        let mut formats = Vec::new();
        for leaf in leaves {
            if self.types(&[leaf]).0 & Types::STRING == 0 {
                continue;
            }
            match leaf.get("format").and_then(Value::as_str) {
                Some(f) if !formats.iter().any(|g| g == f) => formats.push(f.to_owned()),
                Some(_) => {}
                None => return None,
            }
        }
        Some(formats)
    }
}
