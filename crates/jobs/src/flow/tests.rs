use serde_json::json;

use super::*;

fn node(name: &str, kind: &str, input: Value, depends_on: &[&str]) -> FlowNodeSpec {
    FlowNodeSpec {
        name: name.into(),
        kind: kind.into(),
        input,
        depends_on: depends_on.iter().map(|d| d.to_string()).collect(),
        on_dependency_failure: DependencyPolicy::Fail,
        priority: None,
    }
}

fn ingest(name: &str) -> FlowNodeSpec {
    node(
        name,
        "photo.ingest",
        json!({"upload_id": "6f1c1f5e-0d57-4b8e-9a5e-4d7f9a0c2b11"}),
        &[],
    )
}

/// An avatar built from the photo the `front` node ingested, `front`
/// standing wherever `reference` puts it.
fn avatar(front: Value) -> FlowNodeSpec {
    node(
        "avatar",
        "avatar.build",
        json!({"photos": {"front": front}, "height_cm": 170.0}),
        &["front"],
    )
}

fn from(node: &str, pointer: &str) -> Value {
    json!({"$from": node, "pointer": pointer})
}

fn refused(nodes: Vec<FlowNodeSpec>) -> String {
    plan(nodes, DEFAULT_MAX_NODES, &KindSchemas::new())
        .expect_err("refused")
        .message
}

fn staged(name: &str, depends_on: &[&str]) -> FlowNodeSpec {
    node(
        name,
        "test.staged",
        json!({"stages": [{"name": "s", "ms": 0}]}),
        depends_on,
    )
}

#[test]
fn a_flow_is_ordered_dependencies_first_and_its_references_recorded() {
    let nodes = vec![avatar(from("front", "/photo_id")), ingest("front")];
    let plan = plan(nodes, DEFAULT_MAX_NODES, &KindSchemas::new()).unwrap();
    let names: Vec<&str> = plan.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["front", "avatar"]);
    assert!(plan.nodes[0].spec.is_some(), "no references: checked now");
    let avatar = &plan.nodes[1];
    assert_eq!(avatar.kind, JobKind::AvatarBuild);
    assert!(
        avatar.spec.is_none(),
        "checked once its references are filled"
    );
    assert_eq!(
        avatar.references,
        [Reference {
            at: "/photos/front".into(),
            from: "front".into(),
            pointer: "/photo_id".into()
        }]
    );
    assert_eq!(avatar.priority, Priority::default());
}

#[test]
fn a_cycle_is_refused_and_named() {
    let message = refused(vec![
        staged("a", &["b"]),
        staged("b", &["c"]),
        staged("c", &["a"]),
        staged("d", &[]),
    ]);
    assert_eq!(
        message,
        "nodes: a cycle: a → b → c → a (each depends on the next)"
    );
    // A cycle behind nodes that could run is found too.
    let message = refused(vec![
        staged("x", &[]),
        staged("y", &["x", "z"]),
        staged("z", &["y"]),
    ]);
    assert!(message.contains("y → z → y"), "{message}");
}

#[test]
fn the_graph_s_mistakes_are_refused_naming_the_node() {
    for (nodes, expected) in [
        (
            vec![staged("a", &["ghost"])],
            "nodes[0].depends_on[0]: no node is named \"ghost\"",
        ),
        (
            vec![staged("a", &["a"])],
            "nodes[0].depends_on[0]: \"a\" is the node itself",
        ),
        (
            vec![staged("a", &[]), staged("b", &["a", "a"])],
            "nodes[1].depends_on[1]: \"a\" is listed twice",
        ),
        (
            vec![staged("a", &[]), staged("a", &[])],
            "nodes[1].name: \"a\" names two nodes",
        ),
        (
            vec![staged("a b", &[])],
            "nodes[0].name: 1-64 letters, digits, _ or -",
        ),
        (vec![], "nodes: 1 to 200 nodes, not 0"),
        (
            vec![node("a", "photo.teleport", json!({}), &[])],
            "nodes[0].kind: unknown kind \"photo.teleport\"",
        ),
    ] {
        assert_eq!(refused(nodes), expected);
    }
    let four = vec![
        staged("a", &[]),
        staged("b", &[]),
        staged("c", &[]),
        staged("d", &[]),
    ];
    let error = plan(four, 3, &KindSchemas::new()).unwrap_err();
    assert_eq!(error.message, "nodes: 1 to 3 nodes, not 4");
}

#[test]
fn an_input_without_references_is_checked_for_its_kind_at_submission() {
    let message = refused(vec![node(
        "a",
        "photo.ingest",
        json!({"upload_id": 7}),
        &[],
    )]);
    assert!(
        message.starts_with("nodes[0].input.upload_id: "),
        "{message}"
    );
}

#[test]
fn a_reference_must_exist_in_the_result_and_fit_the_field() {
    for (reference, expected) in [
        (
            from("front", "/nope"),
            "nodes[1].input.photos.front: front /nope: no such field in a photo.ingest result",
        ),
        (
            from("front", "/variants"),
            "nodes[1].input.photos.front: front /variants: a photo.ingest result has array there, the avatar.build input wants string",
        ),
        (
            from("front", "/sha256"),
            "nodes[1].input.photos.front: front /sha256: the avatar.build input wants a string of format uuid, a photo.ingest result has any string",
        ),
        (
            from("front", "photo_id"),
            "nodes[1].input.photos.front.pointer: not a JSON Pointer (\"/a/0/b\")",
        ),
        (
            json!({"$from": "front", "pointer": "/photo_id", "default": 1}),
            "nodes[1].input.photos.front: a reference is {\"$from\": \"<node>\", \"pointer\": \"/json/pointer\"} and nothing else",
        ),
    ] {
        assert_eq!(refused(vec![ingest("front"), avatar(reference)]), expected);
    }
    // Into an array's items, and an integer where a number is wanted.
    let mut deep = avatar(from("front", "/photo_id"));
    deep.input["height_cm"] = from("front", "/variants/0/width");
    plan(vec![ingest("front"), deep], 200, &KindSchemas::new()).unwrap();
    // A number where an integer is wanted is not.
    let mut ms = staged("b", &["a"]);
    ms.input["stages"][0]["ms"] = from("a", "/confidence");
    let a = node(
        "a",
        "avatar.build",
        json!({"photos": {"front": "6f1c1f5e-0d57-4b8e-9a5e-4d7f9a0c2b11"}, "height_cm": 170.0}),
        &[],
    );
    let message = refused(vec![a, ms]);
    assert!(
        message.ends_with(
            "a avatar.build result has number there, the test.staged input wants integer"
        ),
        "{message}"
    );
}

#[test]
fn a_reference_reads_a_declared_dependency_that_must_have_succeeded() {
    let mut undeclared = avatar(from("front", "/photo_id"));
    undeclared.depends_on.clear();
    assert_eq!(
        refused(vec![ingest("front"), undeclared]),
        "nodes[1].input.photos.front: \"front\" is not among the node's depends_on"
    );
    let mut continuing = avatar(from("front", "/photo_id"));
    continuing.on_dependency_failure = DependencyPolicy::Continue;
    assert!(
        refused(vec![ingest("front"), continuing]).contains("cannot continue past its failure")
    );
}

#[test]
fn pointers_parse_as_rfc_6901_says() {
    assert_eq!(Step::parse_pointer(""), Some(vec![]));
    assert_eq!(
        Step::parse_pointer("/a~1b/0/~0c/01"),
        Some(vec![
            Step::Key("a/b".into()),
            Step::Index(0),
            Step::Key("~c".into()),
            Step::Key("01".into()),
        ])
    );
    assert_eq!(Step::parse_pointer("a"), None);
    assert_eq!(
        pointer_of(&[Step::Key("a/b".into()), Step::Index(2)]),
        "/a~1b/2"
    );
}

/// Random DAGs (up to 50 nodes, submitted shuffled): each plans, every node
/// after its dependencies; one edge back from a dependency to its dependent
/// makes a cycle, refused with a cycle that is one.
#[test]
fn random_graphs_plan_in_dependency_order_and_their_cycles_are_found() {
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    for _ in 0..200 {
        let n = 1 + next(50);
        let names: Vec<String> = (0..n).map(|i| format!("n{i}")).collect();
        let mut deps: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (i, d) in deps.iter_mut().enumerate().skip(1) {
            for _ in 0..next(4) {
                let j = next(i);
                if !d.contains(&j) {
                    d.push(j);
                }
            }
        }
        let mut order: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            order.swap(i, next(i + 1));
        }
        let spec = |deps: &Vec<Vec<usize>>| -> Vec<FlowNodeSpec> {
            order
                .iter()
                .map(|&i| {
                    let d: Vec<&str> = deps[i].iter().map(|&j| names[j].as_str()).collect();
                    staged(&names[i], &d)
                })
                .collect()
        };
        let planned = plan(spec(&deps), 200, &KindSchemas::new()).unwrap();
        let position: HashMap<&str, usize> = planned
            .nodes
            .iter()
            .enumerate()
            .map(|(p, node)| (node.name.as_str(), p))
            .collect();
        for node in &planned.nodes {
            for d in &node.depends_on {
                assert!(position[d.as_str()] < position[node.name.as_str()]);
            }
        }
        // An edge back: a dependency of i now depends on i.
        if let Some(i) = (0..n).rev().find(|&i| !deps[i].is_empty()) {
            let j = deps[i][0];
            deps[j].push(i);
            let message = refused(spec(&deps));
            let cycle = message
                .strip_prefix("nodes: a cycle: ")
                .and_then(|m| m.strip_suffix(" (each depends on the next)"))
                .unwrap_or_else(|| panic!("{message}"));
            let steps: Vec<&str> = cycle.split(" → ").collect();
            assert_eq!(steps.first(), steps.last(), "{message}");
            for pair in steps.windows(2) {
                let a: usize = pair[0][1..].parse().unwrap();
                let b: usize = pair[1][1..].parse().unwrap();
                assert!(
                    deps[a].contains(&b),
                    "{message}: {} does not depend on {}",
                    pair[0],
                    pair[1]
                );
            }
        }
    }
}
