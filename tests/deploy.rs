//! The Kubernetes manifests agree with queues.toml.
use atelier_config::QueuesConfig;

fn field(doc: &str, name: &str) -> u32 {
    doc.lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name}"))
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn every_queue_has_a_pool_scaled_within_its_queues_toml_bounds() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let queues = QueuesConfig::load(format!("{root}/queues.toml").as_ref()).unwrap();
    for q in &queues.queues {
        let path = format!("{root}/deploy/k8s/worker-{}.yaml", q.name);
        let doc = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let scaled = doc
            .split("kind: ScaledObject")
            .nth(1)
            .expect("a ScaledObject");
        assert_eq!(
            field(scaled, "minReplicaCount"),
            q.scaling.min_workers,
            "{path}"
        );
        assert_eq!(
            field(scaled, "maxReplicaCount"),
            q.scaling.max_workers,
            "{path}"
        );
        assert!(
            doc.contains(&format!("\"--queues\", \"{}\"", q.name)),
            "{path}"
        );
        assert!(
            scaled.contains(&format!(
                "atelier_queue_recommended_workers{{queue=\"{}\"}}",
                q.name
            )),
            "{path}"
        );
    }
    // The seed's pools.
    let avatar = queues.get("avatar").unwrap();
    assert_eq!(
        (avatar.scaling.min_workers, avatar.scaling.max_workers),
        (2, 10)
    );
    let render = queues.get("render").unwrap();
    assert_eq!(
        (render.scaling.min_workers, render.scaling.max_workers),
        (3, 15)
    );
}
