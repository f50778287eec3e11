//! The one place that names every handler. It builds only what the worker's
//! queues need: a worker without vision kinds never loads an ONNX model, and
//! one without render kinds never opens a Vulkan device.
use std::sync::Arc;

use anyhow::Context;
use atelier_config::AppConfig;
use atelier_jobs::JobKind;
use atelier_runtime::{Handler, Handlers};

use crate::render::RenderShared;
use crate::vision::models::VisionModels;
use crate::{avatar, notify, photo, render, testing, vision};

/// Every kind this worker binary has a handler for.
pub const KINDS: [JobKind; 12] = [
    JobKind::PhotoIngest,
    JobKind::AvatarBuild,
    JobKind::VisionPose,
    JobKind::VisionSegment,
    JobKind::VisionTag,
    JobKind::VisionEmbed,
    JobKind::VisionSkinTone,
    JobKind::RenderStills,
    JobKind::RenderTurntable,
    JobKind::Export,
    JobKind::NotifyEmail,
    JobKind::TestStaged,
];

fn is_render(kind: &JobKind) -> bool {
    matches!(
        kind,
        JobKind::RenderStills | JobKind::RenderTurntable | JobKind::Export
    )
}

/// The handlers of `kinds` (kinds without one are left out).
pub fn build(config: &AppConfig, kinds: &[JobKind]) -> anyhow::Result<Handlers> {
    let avatars = kinds.contains(&JobKind::AvatarBuild);
    let vision_models = if avatars || kinds.iter().any(|k| k.as_str().starts_with("vision.")) {
        Some(Arc::new(
            VisionModels::load(&config.models).context("loading models")?,
        ))
    } else {
        None
    };
    let render_shared = if avatars || kinds.iter().any(is_render) {
        Some(Arc::new(
            RenderShared::new(&config.render).context("opening the renderer")?,
        ))
    } else {
        None
    };
    let renderer = || {
        render_shared
            .clone()
            .expect("opened above for render kinds")
    };
    let models = || {
        vision_models
            .clone()
            .expect("loaded above for vision kinds")
    };
    let body = if avatars {
        Some(Arc::new(crate::avatar::BodyKit::open()?))
    } else {
        None
    };
    let mut handlers: Vec<Arc<dyn Handler>> = Vec::new();
    for kind in kinds {
        let handler: Arc<dyn Handler> = match kind {
            JobKind::PhotoIngest => Arc::new(photo::ingest::Ingest),
            JobKind::AvatarBuild => {
                Arc::new(avatar::build::Build(Arc::new(avatar::AvatarShared {
                    vision: models(),
                    render: renderer(),
                    body: body.clone().expect("loaded above for avatar.build"),
                })))
            }
            JobKind::VisionPose => Arc::new(vision::pose::Pose(models())),
            JobKind::VisionSegment => Arc::new(vision::segment::Segment(models())),
            JobKind::VisionTag => Arc::new(vision::tag::Tag(models())),
            JobKind::VisionEmbed => Arc::new(vision::embed::Embed(models())),
            JobKind::VisionSkinTone => Arc::new(vision::skin_tone::SkinTone(models())),
            JobKind::RenderStills => Arc::new(render::stills::Stills(renderer())),
            JobKind::RenderTurntable => Arc::new(render::turntable::Turntable(renderer())),
            JobKind::Export => Arc::new(render::export::Export(renderer())),
            JobKind::NotifyEmail => Arc::new(notify::email::Email::new(&config.email)?),
            JobKind::TestStaged => Arc::new(testing::staged::Staged),
        };
        handlers.push(handler);
    }
    Ok(Handlers::new(handlers))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The intake accepts exactly the kinds a worker can run: a kind with a
    /// handler here is accepted, and nothing is accepted that has none.
    #[test]
    fn the_registry_covers_exactly_the_kinds_the_intake_accepts() {
        let accepted: Vec<JobKind> = JobKind::ALL
            .into_iter()
            .chain(JobKind::TEST)
            .filter(|k| k.has_handler())
            .collect();
        let mut registered = KINDS.to_vec();
        registered.sort_by_key(|k| k.as_str());
        let mut accepted_sorted = accepted.clone();
        accepted_sorted.sort_by_key(|k| k.as_str());
        assert_eq!(registered, accepted_sorted);
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
        // Every registered kind really builds (with the real models where
        // they are installed is the end-to-end suite's business).
        let non_vision: Vec<JobKind> = KINDS
            .into_iter()
            .filter(|k| {
                !k.as_str().starts_with("vision.") && !is_render(k) && *k != JobKind::AvatarBuild
            })
            .collect();
        assert_eq!(
            build(&config, &non_vision).unwrap().kinds().len(),
            non_vision.len()
        );
    }
}
