//! Flows for operators: a list, a flow drawn as a tree with each node's
//! state, cancel and retry (`/v1/ops/flows`).
use std::collections::BTreeMap;

use serde::Deserialize;

/// `GET /v1/ops/flows`, as the table reads it.
#[derive(Debug, Deserialize)]
pub(crate) struct FlowList {
    flows: Vec<FlowSummary>,
}

#[derive(Debug, Deserialize)]
struct FlowSummary {
    flow_id: String,
    client_id: String,
    user_id: String,
    status: String,
    nodes_total: u32,
    nodes_done: u32,
    created_at: String,
}

/// `GET /v1/ops/flows/{flow_id}`, as the tree reads it.
#[derive(Debug, Deserialize)]
pub(crate) struct Flow {
    flow_id: String,
    user_id: String,
    status: String,
    nodes_total: u32,
    nodes_done: u32,
    nodes: Vec<Node>,
}

#[derive(Debug, Deserialize)]
struct Node {
    name: String,
    kind: String,
    status: String,
    attempts: u32,
    depends_on: Vec<String>,
    #[serde(default)]
    error: Option<NodeError>,
}

#[derive(Debug, Deserialize)]
struct NodeError {
    code: String,
}

/// The `/v1/ops/flows` path with the filters given.
pub(crate) fn list_path(
    status: Option<&str>,
    client: Option<&str>,
    user: Option<&str>,
    limit: usize,
) -> String {
    let mut url = reqwest::Url::parse("http://intake/v1/ops/flows").expect("a valid URL");
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in [("status", status), ("client_id", client), ("user_id", user)] {
            if let Some(value) = value {
                query.append_pair(name, value);
            }
        }
        query.append_pair("limit", &limit.to_string());
    }
    format!("{}?{}", url.path(), url.query().unwrap_or_default())
}

pub(crate) fn list(body: &FlowList) -> String {
    let rows = body
        .flows
        .iter()
        .map(|f| {
            vec![
                f.flow_id.clone(),
                f.client_id.clone(),
                f.user_id.clone(),
                f.status.clone(),
                format!("{}/{}", f.nodes_done, f.nodes_total),
                f.created_at.clone(),
            ]
        })
        .collect();
    crate::table::render(
        &["FLOW", "CLIENT", "USER", "STATUS", "DONE", "CREATED"],
        rows,
    )
}

/// The flow as a tree: each node under the first of its dependencies (in
/// the flow's order), its other dependencies named; roots at the left.
pub(crate) fn tree(flow: &Flow) -> String {
    let mut out = format!(
        "flow {} (user {}): {} {}/{}\n",
        flow.flow_id, flow.user_id, flow.status, flow.nodes_done, flow.nodes_total
    );
    let mut children: BTreeMap<&str, Vec<&Node>> = BTreeMap::new();
    let mut roots = Vec::new();
    for node in &flow.nodes {
        match node.depends_on.first() {
            Some(parent) => children.entry(parent.as_str()).or_default().push(node),
            None => roots.push(node),
        }
    }
    fn draw(
        out: &mut String,
        node: &Node,
        prefix: &str,
        last: bool,
        children: &BTreeMap<&str, Vec<&Node>>,
    ) {
        let branch = if last { "└─ " } else { "├─ " };
        let mut line = format!(
            "{prefix}{branch}{} [{}] {}",
            node.name, node.kind, node.status
        );
        if node.attempts > 1 {
            line.push_str(&format!(" ({} attempts)", node.attempts));
        }
        if let Some(error) = &node.error {
            line.push_str(&format!(" {}", error.code));
        }
        if node.depends_on.len() > 1 {
            line.push_str(&format!(
                " (also after {})",
                node.depends_on[1..].join(", ")
            ));
        }
        out.push_str(&line);
        out.push('\n');
        let below = children
            .get(node.name.as_str())
            .map_or(&[][..], Vec::as_slice);
        let prefix = format!("{prefix}{}", if last { "   " } else { "│  " });
        for (i, child) in below.iter().enumerate() {
            draw(out, child, &prefix, i + 1 == below.len(), children);
        }
    }
    for (i, root) in roots.iter().enumerate() {
        draw(&mut out, root, "", i + 1 == roots.len(), &children);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flow_draws_as_a_tree_with_its_other_dependencies_named() {
        let flow: Flow = serde_json::from_value(serde_json::json!({
            "flow_id": "f", "user_id": "ana", "status": "failed", "nodes_total": 4, "nodes_done": 4,
            "nodes": [
                {"name": "front", "kind": "photo.ingest", "status": "complete", "attempts": 1, "depends_on": []},
                {"name": "side", "kind": "photo.ingest", "status": "complete", "attempts": 2, "depends_on": []},
                {"name": "avatar", "kind": "avatar.build", "status": "error", "attempts": 1,
                 "depends_on": ["front", "side"], "error": {"code": "avatar.photo_unusable"}},
                {"name": "spin", "kind": "render.turntable", "status": "error", "attempts": 0,
                 "depends_on": ["avatar"], "error": {"code": "flow.dependency_failed"}},
            ]
        }))
        .unwrap();
        assert_eq!(
            tree(&flow),
            "flow f (user ana): failed 4/4\n\
             ├─ front [photo.ingest] complete\n\
             │  └─ avatar [avatar.build] error avatar.photo_unusable (also after side)\n\
             │     └─ spin [render.turntable] error flow.dependency_failed\n\
             └─ side [photo.ingest] complete (2 attempts)\n"
        );
        assert_eq!(
            list_path(Some("failed"), None, Some("a b"), 5),
            "/v1/ops/flows?status=failed&user_id=a+b&limit=5"
        );
    }
}
