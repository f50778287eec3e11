//! The people in a photo, found before any job looks at one
//! (`atelier_vision::person` states the rule): NanoDet's person boxes,
//! each confirmed by the BlazePose detector on a crop around it, then the
//! landmark model on the crop the detection places. Every vision job that
//! needs a person starts here; the primary person (largest, most central)
//! fills the single-person fields of the results.
use atelier_media::RgbPhoto;
use atelier_runtime::JobFailure;
use atelier_vision::person::{
    BoxF, CONFIRM_MARGIN, Candidate, DETECTOR_SIZE, MIN_BACK_PRESENCE, MIN_UNCONFIRMED,
    NANODET_SIZE, PoseDetection, confirming, nanodet_normalise, nanodet_persons, pose_detections,
    primary,
};
use atelier_vision::{PersonMask, letterbox_tensor, upsample_mask};

use super::models::VisionModels;
use super::{PosePass, pose_pass, run_image};

/// At most this many candidates are looked at (the highest-scoring): a
/// crowd photo costs a bounded time.
pub(crate) const MAX_PERSONS: usize = 10;
/// Two candidates whose confirming heads overlap this much are one person.
const SAME_HEAD_IOU: f32 = 0.5;
/// An unconfirmed candidate overlapping a person found already this much is
/// part of that person.
const SAME_BODY_IOU: f32 = 0.3;

/// One person: the box NanoDet drew (clipped to the photo), its score, the
/// detection that confirmed it (none for a back view) and the landmark
/// model's pass on the person's crop.
pub(crate) struct Person {
    pub bbox: BoxF,
    pub score: f32,
    pub detection: Option<PoseDetection>,
    pub pass: PosePass,
}

/// Everyone found, the primary person first; and what was looked at, for
/// the `vision.no_person` message.
pub(crate) struct People {
    pub persons: Vec<Person>,
    pub best_candidate: Option<f32>,
    pub candidates: usize,
}

impl People {
    pub fn primary(&self) -> Option<&Person> {
        self.persons.first()
    }

    /// The failure for a photo with nobody in it, with the evidence.
    pub fn none_found(&self) -> JobFailure {
        let why = match self.best_candidate {
            None => "no person found (the person detector proposed nothing)".to_owned(),
            Some(best) => format!(
                "no person found ({} candidate{} up to {best:.2}, none confirmed by the BlazePose detector)",
                self.candidates,
                if self.candidates == 1 { "" } else { "s" }
            ),
        };
        JobFailure::abort(atelier_jobs::ErrorCode::VisionNoPerson, why)
    }

    /// Every person's mask at the photo's resolution, combined (the most
    /// confident person wins each pixel).
    pub fn mask(&self, photo: &RgbPhoto) -> PersonMask {
        let mut alpha = vec![0u8; photo.data.len() / 3];
        for p in &self.persons {
            let m = upsample_mask(&p.pass.mask, &p.pass.letterbox, photo.width, photo.height);
            for (a, b) in alpha.iter_mut().zip(m.alpha) {
                *a = (*a).max(b);
            }
        }
        PersonMask {
            width: photo.width,
            height: photo.height,
            alpha,
        }
    }
}

/// NanoDet's person candidates over the whole photo.
fn candidates(models: &VisionModels, photo: &RgbPhoto) -> Result<Vec<Candidate>, JobFailure> {
    let (mut tensor, lb) = letterbox_tensor(
        &photo.data,
        photo.width,
        photo.height,
        None,
        NANODET_SIZE,
        (255.0, 0.0),
    );
    nanodet_normalise(&mut tensor);
    let mut out = run_image(&models.person_boxes, "input_1:0", NANODET_SIZE, &tensor)?;
    let mut take = |name: &str| out.take(name);
    let (s8, s16, s32) = (
        take("Identity:0")?,
        take("Identity_1:0")?,
        take("Identity_2:0")?,
    );
    let (d8, d16, d32) = (
        take("Identity_3:0")?,
        take("Identity_4:0")?,
        take("Identity_5:0")?,
    );
    Ok(nanodet_persons(
        &[(&s8, &d8), (&s16, &d16), (&s32, &d32)],
        &lb,
    ))
}

/// The BlazePose detector on a square crop around `candidate`.
fn confirm(
    models: &VisionModels,
    photo: &RgbPhoto,
    candidate: &Candidate,
) -> Result<Option<PoseDetection>, JobFailure> {
    let (tensor, lb) = letterbox_tensor(
        &photo.data,
        photo.width,
        photo.height,
        Some(candidate.bbox.square(CONFIRM_MARGIN)),
        DETECTOR_SIZE,
        (2.0, -1.0),
    );
    let raw = run_image(&models.pose_detect, "input", DETECTOR_SIZE, &tensor)?.take("person")?;
    Ok(confirming(candidate, &pose_detections(&raw, &lb)))
}

/// Everyone in `photo`, primary first.
pub(crate) fn find_people(models: &VisionModels, photo: &RgbPhoto) -> Result<People, JobFailure> {
    let found = candidates(models, photo)?;
    let best_candidate = found.first().map(|c| c.score);
    let mut persons: Vec<Person> = Vec::new();
    for candidate in found.iter().take(MAX_PERSONS) {
        let detection = confirm(models, photo, candidate)?;
        // Two boxes of one person (the whole body and the upper body) are
        // confirmed by the same head: the first, higher-scoring one stands.
        let same_person = |p: &Person| match (&detection, &p.detection) {
            (Some(d), Some(e)) => d.head.iou(&e.head) > SAME_HEAD_IOU,
            _ => p.bbox.iou(&candidate.bbox) > SAME_BODY_IOU,
        };
        if persons.iter().any(same_person) {
            continue;
        }
        let region = match &detection {
            Some(d) => d.landmark_region(),
            None if candidate.score >= MIN_UNCONFIRMED => candidate.bbox.square(1.25),
            None => continue,
        };
        let pass = pose_pass(&models.pose, photo, Some(region))?;
        if detection.is_none() && pass.output.presence < MIN_BACK_PRESENCE {
            continue;
        }
        persons.push(Person {
            bbox: candidate.bbox.clip(photo.width, photo.height),
            score: candidate.score,
            detection,
            pass,
        });
    }
    let boxes: Vec<BoxF> = persons.iter().map(|p| p.bbox).collect();
    if let Some(first) = primary(&boxes, photo.width, photo.height) {
        persons.swap(0, first);
        // The rest by score, highest first.
        persons[1..].sort_by(|a, b| b.score.total_cmp(&a.score));
    }
    Ok(People {
        persons,
        best_candidate,
        candidates: found.len(),
    })
}

/// People in a photo that should show exactly one (an avatar's): as
/// [`find_people`], and when NanoDet proposes no one (it misses some
/// side views of a body), MediaPipe's own pipeline: the BlazePose detector
/// over the whole photo, its best detection's landmark crop, kept when the
/// landmark model finds a pose there (presence ≥ 0.5). Not used by the
/// vision jobs, whose photos may hold animals the detector alone would
/// take for people.
pub(crate) fn find_expected_person(
    models: &VisionModels,
    photo: &RgbPhoto,
) -> Result<People, JobFailure> {
    let mut people = find_people(models, photo)?;
    if !people.persons.is_empty() {
        return Ok(people);
    }
    let (tensor, lb) = letterbox_tensor(
        &photo.data,
        photo.width,
        photo.height,
        None,
        DETECTOR_SIZE,
        (2.0, -1.0),
    );
    let raw = run_image(&models.pose_detect, "input", DETECTOR_SIZE, &tensor)?.take("person")?;
    let Some(detection) = pose_detections(&raw, &lb).into_iter().next() else {
        return Ok(people);
    };
    let region = detection.landmark_region();
    let pass = pose_pass(&models.pose, photo, Some(region))?;
    if pass.output.presence < MIN_BACK_PRESENCE {
        return Ok(people);
    }
    let bbox = BoxF {
        x0: region.x,
        y0: region.y,
        x1: region.x + region.w,
        y1: region.y + region.h,
    }
    .clip(photo.width, photo.height);
    people.persons.push(Person {
        bbox,
        score: detection.score,
        detection: Some(detection),
        pass,
    });
    Ok(people)
}
