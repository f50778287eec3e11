//! The one place that names every handler: one row per job kind in
//! [`handler`] (a `match` the compiler holds to every kind). It builds only
//! what the worker's kinds need: a worker without vision kinds never loads
//! an ONNX model, and one without render kinds never opens a Vulkan device.
use std::sync::Arc;

use anyhow::Context;
use atelier_config::AppConfig;
use atelier_jobs::JobKind;
use atelier_runtime::{Handler, Handlers};

use crate::avatar::{AvatarShared, BodyKit};
use crate::render::RenderShared;
use crate::vision::models::VisionModels;
use crate::{avatar, notify, photo, render, testing, vision};

/// The handler of `kind`, built from `parts`.
fn handler(kind: JobKind, parts: &mut Parts) -> anyhow::Result<Arc<dyn Handler>> {
    Ok(match kind {
        JobKind::PhotoIngest => Arc::new(photo::ingest::Ingest),
        JobKind::VisionSegment => Arc::new(vision::segment::Segment(parts.vision()?)),
        JobKind::VisionPose => Arc::new(vision::pose::Pose(parts.vision()?)),
        JobKind::VisionSkinTone => Arc::new(vision::skin_tone::SkinTone(parts.vision()?)),
        JobKind::VisionTag => Arc::new(vision::tag::Tag(parts.vision()?)),
        JobKind::VisionEmbed => Arc::new(vision::embed::Embed(parts.vision()?)),
        JobKind::AvatarBuild => Arc::new(avatar::build::Build(Arc::new(AvatarShared {
            vision: parts.vision()?,
            render: parts.render()?,
            body: parts.body()?,
        }))),
        JobKind::RenderStills => Arc::new(render::stills::Stills(parts.render()?)),
        JobKind::RenderTurntable => Arc::new(render::turntable::Turntable(parts.render()?)),
        JobKind::Export => Arc::new(render::export::Export(parts.render()?)),
        JobKind::NotifyEmail => Arc::new(notify::email::Email::new(&parts.config.email)?),
        JobKind::TestStaged => Arc::new(testing::staged::Staged),
    })
}

/// What handlers share, each made the first time a handler asks for it.
struct Parts<'a> {
    config: &'a AppConfig,
    vision: Option<Arc<VisionModels>>,
    render: Option<Arc<RenderShared>>,
    body: Option<Arc<BodyKit>>,
}

impl Parts<'_> {
    fn vision(&mut self) -> anyhow::Result<Arc<VisionModels>> {
        if self.vision.is_none() {
            let models = VisionModels::load(&self.config.models).context("loading models")?;
            self.vision = Some(Arc::new(models));
        }
        Ok(self.vision.clone().expect("loaded above"))
    }

    fn render(&mut self) -> anyhow::Result<Arc<RenderShared>> {
        if self.render.is_none() {
            let shared = RenderShared::new(&self.config.render).context("opening the renderer")?;
            self.render = Some(Arc::new(shared));
        }
        Ok(self.render.clone().expect("opened above"))
    }

    fn body(&mut self) -> anyhow::Result<Arc<BodyKit>> {
        if self.body.is_none() {
            self.body = Some(Arc::new(BodyKit::open()?));
        }
        Ok(self.body.clone().expect("opened above"))
    }
}

/// The handlers of `kinds`.
pub fn build(config: &AppConfig, kinds: &[JobKind]) -> anyhow::Result<Handlers> {
    let mut parts = Parts {
        config,
        vision: None,
        render: None,
        body: None,
    };
    let handlers = kinds
        .iter()
        .map(|&kind| {
            let handler = handler(kind, &mut parts)?;
            // A row that names another kind's handler: the worker would
            // take `kind`'s jobs and run them as the other kind.
            anyhow::ensure!(
                handler.kind() == kind,
                "the registry's row for {kind} builds the handler of {}",
                handler.kind()
            );
            Ok(handler)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Handlers::new(handlers))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kinds whose handlers need the models, a GPU device or the body
    /// model (the others are built in the test below).
    fn heavy(kind: JobKind) -> bool {
        matches!(
            kind,
            JobKind::VisionSegment
                | JobKind::VisionPose
                | JobKind::VisionSkinTone
                | JobKind::VisionTag
                | JobKind::VisionEmbed
                | JobKind::AvatarBuild
                | JobKind::RenderStills
                | JobKind::RenderTurntable
                | JobKind::Export
        )
    }

    /// A kind is whole: a handler that says it runs that kind, a queue in
    /// the shipped queues.toml, and its contract in the document.
    #[test]
    fn every_kind_has_a_handler_a_queue_and_documented_types() {
        let config = AppConfig::default();
        for kind in JobKind::every().filter(|k| !heavy(*k)) {
            let handlers = build(&config, &[kind]).unwrap();
            assert_eq!(handlers.kinds(), vec![kind]);
        }
        let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/../../queues.toml");
        let queues = atelier_config::QueuesConfig::load(std::path::Path::new(shipped)).unwrap();
        let mut schemas = atelier_jobs::Schemas::new();
        let contracts = atelier_jobs::kind_contracts(&mut schemas);
        for kind in JobKind::every() {
            // Test-only kinds ride the tests' own queues.
            assert!(
                kind.is_test() || queues.find_for_kind(kind).is_some(),
                "no queue in queues.toml carries {kind}"
            );
            assert!(
                contracts.iter().any(|c| c.kind == kind),
                "{kind} has no contract"
            );
        }
    }

    #[test]
    fn a_worker_without_vision_kinds_builds_without_models() {
        // No model files are reachable from this config: building succeeds
        // only because nothing tries to load them.
        let mut config = AppConfig::default();
        config.models.manifests = "/nonexistent".into();
        let handlers = build(&config, &[JobKind::PhotoIngest, JobKind::TestStaged]).unwrap();
        assert_eq!(
            handlers.kinds(),
            vec![JobKind::PhotoIngest, JobKind::TestStaged]
        );
        assert!(build(&config, &[JobKind::VisionPose]).is_err());
        // avatar.build needs the vision models too.
        assert!(build(&config, &[JobKind::AvatarBuild]).is_err());
    }
}
