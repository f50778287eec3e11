//! Flows (v1): a named DAG of jobs submitted as one. Each node is a job
//! (kind, input, priority) that waits for the nodes it depends on; its
//! input may take values from their results (`{"$from": node, "pointer":
//! "/json/pointer"}`), checked against the kinds' schemas at submission and
//! filled in when the node is released.
//!
//! [`plan`] checks a submission and orders it. Pure: the intake stores the
//! plan; the database releases nodes and fills their references in
//! (`migrations/20261207000001_flows.sql`), and the runtime checks a filled
//! input for its kind when the node runs.
use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{JobKind, JobSpec, Priority, ValidationError};

mod schema;

pub use schema::{KindSchemas, Step};

/// `flows.max_nodes`' default.
pub const DEFAULT_MAX_NODES: usize = 200;

/// The key of a reference to an earlier node's result.
pub const FROM: &str = "$from";

/// One node as a client submits it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowNodeSpec {
    /// 1–64 letters, digits, `_` or `-`; unique in the flow.
    pub name: String,
    /// A job kind's wire name.
    pub kind: String,
    /// The kind's input, where any value may be a reference to an earlier
    /// node's result: `{"$from": "<node>", "pointer": "/json/pointer"}`.
    #[serde(default)]
    pub input: Value,
    /// Nodes that must end before this one runs.
    #[serde(default)]
    pub depends_on: Vec<String>,
    #[serde(default)]
    pub on_dependency_failure: DependencyPolicy,
    #[serde(default)]
    pub priority: Option<Priority>,
}

/// What a node does when a node it depends on fails (ends `error`, `dead`,
/// `cancelled` or `skipped`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DependencyPolicy {
    /// End `error` (`flow.dependency_failed`, naming it), and fail the flow.
    #[default]
    Fail,
    /// End `skipped`; the flow goes on.
    Skip,
    /// Run anyway, the failed dependency's error in its dependency map.
    Continue,
}

/// A flow's state: `running` until every node has ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FlowStatus {
    Running,
    /// Every node ended, and no failure failed the flow.
    Complete,
    /// A node failed and no dependent skipped or continued past it.
    Failed,
    Cancelled,
}

impl DependencyPolicy {
    pub const ALL: [DependencyPolicy; 3] = [
        DependencyPolicy::Fail,
        DependencyPolicy::Skip,
        DependencyPolicy::Continue,
    ];

    /// The wire name (and the `jobs.on_dependency_failure` column's value).
    pub fn as_str(self) -> &'static str {
        match self {
            DependencyPolicy::Fail => "fail",
            DependencyPolicy::Skip => "skip",
            DependencyPolicy::Continue => "continue",
        }
    }
}

impl std::str::FromStr for DependencyPolicy {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DependencyPolicy::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| ValidationError::new(format!("unknown dependency policy {s:?}")))
    }
}

impl FlowStatus {
    pub const ALL: [FlowStatus; 4] = [
        FlowStatus::Running,
        FlowStatus::Complete,
        FlowStatus::Failed,
        FlowStatus::Cancelled,
    ];

    /// The wire name (and the `flows.status` column's value).
    pub fn as_str(self) -> &'static str {
        match self {
            FlowStatus::Running => "running",
            FlowStatus::Complete => "complete",
            FlowStatus::Failed => "failed",
            FlowStatus::Cancelled => "cancelled",
        }
    }
}

impl std::str::FromStr for FlowStatus {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FlowStatus::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| ValidationError::new(format!("unknown flow status {s:?}")))
    }
}

/// Which nodes a retry runs again (River's modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RetryMode {
    /// The nodes that failed themselves (not those a dependency's failure
    /// ended).
    FailedOnly,
    /// Those, and every node after them that did not complete.
    FailedAndDownstream,
    /// Every node.
    All,
}

impl RetryMode {
    pub fn as_str(self) -> &'static str {
        match self {
            RetryMode::FailedOnly => "failed_only",
            RetryMode::FailedAndDownstream => "failed_and_downstream",
            RetryMode::All => "all",
        }
    }
}

/// A value of this node's input to be taken from an earlier node's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    /// Where it stands in the node's input (a JSON Pointer).
    pub at: String,
    /// The node whose result it reads.
    pub from: String,
    /// Where in that result (a JSON Pointer).
    pub pointer: String,
}

/// A checked node.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedNode {
    pub name: String,
    pub kind: JobKind,
    /// As submitted, references in place.
    pub input: Value,
    pub references: Vec<Reference>,
    /// The input checked for its kind now, when it has no references
    /// (with references it is checked once they are filled in).
    pub spec: Option<JobSpec>,
    pub depends_on: Vec<String>,
    pub policy: DependencyPolicy,
    pub priority: Priority,
}

/// A checked flow: its nodes, each after every node it depends on.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowPlan {
    pub nodes: Vec<PlannedNode>,
}

/// Check a submission: names, dependencies (known, acyclic: a cycle is
/// named), kinds, inputs (checked for their kind, or, with references,
/// each reference's type against the schemas), at most `max_nodes`.
/// Errors name the node and field at fault (`nodes[2].depends_on: …`).
pub fn plan(
    nodes: Vec<FlowNodeSpec>,
    max_nodes: usize,
    schemas: &KindSchemas,
) -> Result<FlowPlan, ValidationError> {
    if nodes.is_empty() || nodes.len() > max_nodes {
        return Err(ValidationError::new(format!(
            "nodes: 1 to {max_nodes} nodes, not {}",
            nodes.len()
        )));
    }
    let mut index = HashMap::new();
    for (i, node) in nodes.iter().enumerate() {
        let valid = (1..=64).contains(&node.name.len())
            && node
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            return Err(ValidationError::new(format!(
                "nodes[{i}].name: 1-64 letters, digits, _ or -"
            )));
        }
        if index.insert(node.name.as_str(), i).is_some() {
            return Err(ValidationError::new(format!(
                "nodes[{i}].name: \"{}\" names two nodes",
                node.name
            )));
        }
    }
    for (i, node) in nodes.iter().enumerate() {
        for (d, dep) in node.depends_on.iter().enumerate() {
            if !index.contains_key(dep.as_str()) {
                return Err(ValidationError::new(format!(
                    "nodes[{i}].depends_on[{d}]: no node is named \"{dep}\""
                )));
            }
            if node.depends_on[..d].contains(dep) || dep == &node.name {
                return Err(ValidationError::new(format!(
                    "nodes[{i}].depends_on[{d}]: \"{dep}\" {}",
                    if dep == &node.name {
                        "is the node itself"
                    } else {
                        "is listed twice"
                    }
                )));
            }
        }
    }
    let order = topological(&nodes, &index)?;
    let mut planned = Vec::with_capacity(nodes.len());
    let mut kinds = HashMap::new();
    for &i in &order {
        let node = &nodes[i];
        let at = |field: &str| format!("nodes[{i}].{field}");
        let kind: JobKind = node.kind.parse().map_err(|_| {
            ValidationError::new(format!("{}: unknown kind \"{}\"", at("kind"), node.kind))
        })?;
        kinds.insert(node.name.as_str(), kind);
        let mut references = Vec::new();
        collect_references(&node.input, &mut Vec::new(), &mut references).map_err(
            |(steps, why)| {
                ValidationError::new(format!("{}: {why}", Step::describe(&at("input"), &steps)))
            },
        )?;
        for (steps, reference) in &references {
            let place = Step::describe(&at("input"), steps);
            if !node.depends_on.contains(&reference.from) {
                return Err(ValidationError::new(format!(
                    "{place}: \"{}\" is not among the node's depends_on",
                    reference.from
                )));
            }
            if node.on_dependency_failure == DependencyPolicy::Continue {
                return Err(ValidationError::new(format!(
                    "{place}: a node that reads a dependency's result cannot continue past its failure (on_dependency_failure: fail or skip)"
                )));
            }
            let pointer = Step::parse_pointer(&reference.pointer).ok_or_else(|| {
                ValidationError::new(format!("{place}.pointer: not a JSON Pointer (\"/a/0/b\")"))
            })?;
            // Dependencies come first in `order`: their kinds are known.
            let from = kinds[reference.from.as_str()];
            if let Some(why) = schemas.misfit(from, &pointer, kind, steps) {
                return Err(ValidationError::new(format!(
                    "{place}: {} {}: {why}",
                    reference.from, reference.pointer
                )));
            }
        }
        let spec = if references.is_empty() {
            let spec = JobSpec::parse(kind, node.input.clone())
                .map_err(|e| ValidationError::new(format!("nodes[{i}].{}", e.message)))?;
            Some(spec)
        } else {
            None
        };
        planned.push(PlannedNode {
            name: node.name.clone(),
            kind,
            input: node.input.clone(),
            references: references.into_iter().map(|(_, r)| r).collect(),
            spec,
            depends_on: node.depends_on.clone(),
            policy: node.on_dependency_failure,
            priority: node.priority.unwrap_or_default(),
        });
    }
    Ok(FlowPlan { nodes: planned })
}

/// The nodes' indexes, each after its dependencies (Kahn's algorithm,
/// submission order among equals), or the cycle that prevents it.
fn topological(
    nodes: &[FlowNodeSpec],
    index: &HashMap<&str, usize>,
) -> Result<Vec<usize>, ValidationError> {
    let mut waiting: Vec<usize> = nodes.iter().map(|n| n.depends_on.len()).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for (i, node) in nodes.iter().enumerate() {
        for dep in &node.depends_on {
            dependents[index[dep.as_str()]].push(i);
        }
    }
    let mut ready: std::collections::BTreeSet<usize> =
        (0..nodes.len()).filter(|&i| waiting[i] == 0).collect();
    let mut order = Vec::with_capacity(nodes.len());
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &d in &dependents[i] {
            waiting[d] -= 1;
            if waiting[d] == 0 {
                ready.insert(d);
            }
        }
    }
    if order.len() == nodes.len() {
        return Ok(order);
    }
    // Every node left waits on another node left: follow those waits from
    // one of them until a node repeats.
    let left = |i: usize| waiting[i] > 0;
    let mut path = vec![(0..nodes.len()).find(|&i| left(i)).expect("a node is left")];
    loop {
        let last = *path.last().expect("path starts with one");
        let next = nodes[last]
            .depends_on
            .iter()
            .map(|d| index[d.as_str()])
            .find(|&d| left(d))
            .expect("a node left waits on another left");
        if let Some(start) = path.iter().position(|&p| p == next) {
            let names: Vec<&str> = path[start..]
                .iter()
                .chain(std::iter::once(&next))
                .map(|&p| nodes[p].name.as_str())
                .collect();
            return Err(ValidationError::new(format!(
                "nodes: a cycle: {} (each depends on the next)",
                names.join(" → ")
            )));
        }
        path.push(next);
    }
}

/// Every reference in `value`, with where it stands; an object that has a
/// `$from` and is not exactly a reference is an error.
fn collect_references(
    value: &Value,
    steps: &mut Vec<Step>,
    out: &mut Vec<(Vec<Step>, Reference)>,
) -> Result<(), (Vec<Step>, String)> {
    match value {
        Value::Object(map) if map.contains_key(FROM) => {
            let from = map.get(FROM).and_then(Value::as_str);
            let pointer = map.get("pointer").and_then(Value::as_str);
            match (from, pointer, map.len()) {
                (Some(from), Some(pointer), 2) => {
                    out.push((
                        steps.clone(),
                        Reference {
                            at: pointer_of(steps),
                            from: from.to_owned(),
                            pointer: pointer.to_owned(),
                        },
                    ));
                    Ok(())
                }
                _ => Err((
                    steps.clone(),
                    "a reference is {\"$from\": \"<node>\", \"pointer\": \"/json/pointer\"} and nothing else".to_owned(),
                )),
            }
        }
        Value::Object(map) => {
            for (key, child) in map {
                steps.push(Step::Key(key.clone()));
                collect_references(child, steps, out)?;
                steps.pop();
            }
            Ok(())
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                steps.push(Step::Index(i));
                collect_references(child, steps, out)?;
                steps.pop();
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// `steps` as a JSON Pointer.
fn pointer_of(steps: &[Step]) -> String {
    steps
        .iter()
        .map(|s| match s {
            Step::Key(k) => format!("/{}", k.replace('~', "~0").replace('/', "~1")),
            Step::Index(i) => format!("/{i}"),
        })
        .collect()
}

#[cfg(test)]
mod tests;
