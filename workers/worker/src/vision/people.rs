//! The people in a photo, found before any job looks at one
//! (`atelier_vision::person` states the rule): NanoDet's person boxes,
//! each confirmed by the BlazePose detector on a crop around it, then the
//! landmark model on the crop the detection places; then the BlazePose
//! detector over the whole photo for the people NanoDet does not propose
//! (side views, people it scores low), each kept when the landmark model
//! finds a pose on its crop; then the full-range face detector over the
//! whole photo, each face outside everyone found that the face mesh
//! confirms one more person. Every job that looks for people
//! (`vision.pose`, `vision.segment`, `vision.skin_tone`, `vision.tag`,
//! `avatar.build`) calls [`find_people`] and nothing else, so they agree on
//! who is in a photo; the primary person (largest, most central) fills the
//! single-person fields of the results.
use atelier_media::RgbPhoto;
use atelier_runtime::JobFailure;
use atelier_vision::person::{
    BoxF, CONFIRM_MARGIN, Candidate, DETECTOR_SIZE, MIN_BACK_PRESENCE, MIN_UNCONFIRMED,
    NANODET_SIZE, PoseDetection, confirming, nanodet_normalise, nanodet_persons, pose_detections,
    primary,
};
use atelier_vision::{PersonMask, letterbox_tensor, upsample_mask};

use super::faces::{detect, mesh};
use super::models::VisionModels;
use super::{PosePass, pose_pass, run_image};
use atelier_inference::ModelManifest;
use atelier_vision::Rect;
use atelier_vision::face::{Face, FaceModel, MIN_MESH_PRESENCE};

/// The people rule's version, part of every result's cache key: results
/// found by an older rule are not answered from the cache.
pub(crate) const RULE_VERSION: u32 = 2;

/// The models the rule runs: part of the cache key of every job that
/// looks for people.
pub(crate) fn rule_models(models: &VisionModels) -> Vec<&ModelManifest> {
    vec![
        &models.person_boxes.manifest,
        &models.pose_detect.manifest,
        &models.pose.manifest,
        &models.face_detect_full.manifest,
        &models.face_mesh.manifest,
    ]
}

/// At most this many candidates are looked at (the highest-scoring): a
/// crowd photo costs a bounded time.
pub(crate) const MAX_PERSONS: usize = 10;
/// Two candidates whose confirming heads overlap this much are one person.
const SAME_HEAD_IOU: f32 = 0.5;
/// An unconfirmed candidate overlapping a person found already this much is
/// part of that person.
const SAME_BODY_IOU: f32 = 0.3;
/// A whole-photo detection whose head is in a person's box and whose body
/// is this much inside it (or it inside the body) is that person.
const SAME_BODY_SHARE: f32 = 0.6;

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
    /// The full-range face detector's faces over the whole photo (the
    /// rule's last step), for `vision.skin_tone` to read without running it
    /// again.
    pub faces: Vec<Face>,
}

impl People {
    pub fn primary(&self) -> Option<&Person> {
        self.persons.first()
    }

    /// The failure for a photo with nobody in it, with the evidence.
    pub fn none_found(&self) -> JobFailure {
        let n = self.candidates;
        let s = if n == 1 { "" } else { "s" };
        let why = match self.best_candidate {
            None if n == 0 => "no person found (the detectors proposed nothing)".to_owned(),
            None => format!(
                "no person found ({n} candidate{s} over the whole photo, none confirmed by the landmark model or the face mesh)"
            ),
            Some(best) => format!(
                "no person found ({n} candidate{s} up to {best:.2}, none confirmed by the BlazePose detector or the face mesh)"
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

/// The BlazePose detector over `region` of the photo (`None`: all of it,
/// letterboxed).
fn pose_detector(
    models: &VisionModels,
    photo: &RgbPhoto,
    region: Option<Rect>,
) -> Result<Vec<PoseDetection>, JobFailure> {
    let (tensor, lb) = letterbox_tensor(
        &photo.data,
        photo.width,
        photo.height,
        region,
        DETECTOR_SIZE,
        (2.0, -1.0),
    );
    let raw = run_image(&models.pose_detect, "input", DETECTOR_SIZE, &tensor)?.take("person")?;
    Ok(pose_detections(&raw, &lb))
}

/// The BlazePose detector on a square crop around `candidate`.
fn confirm(
    models: &VisionModels,
    photo: &RgbPhoto,
    candidate: &Candidate,
) -> Result<Option<PoseDetection>, JobFailure> {
    let region = candidate.bbox.square(CONFIRM_MARGIN);
    let detections = pose_detector(models, photo, Some(region))?;
    Ok(confirming(candidate, &detections))
}

/// Everyone in `photo`, primary first: the one rule of every job.
pub(crate) fn find_people(models: &VisionModels, photo: &RgbPhoto) -> Result<People, JobFailure> {
    let found = candidates(models, photo)?;
    let best_candidate = found.first().map(|c| c.score);
    let mut persons: Vec<Person> = Vec::new();
    for candidate in found.iter().take(MAX_PERSONS) {
        let detection = confirm(models, photo, candidate)?;
        if persons
            .iter()
            .any(|p| same_person(p, detection.as_ref(), &candidate.bbox, false))
        {
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
    let whole = pose_detector(models, photo, None)?;
    let detections = whole.len();
    for detection in whole {
        if persons.len() >= MAX_PERSONS {
            break;
        }
        let head = |p: &Person| p.detection.map(|e| e.head.iou(&detection.head));
        if persons.iter().any(|p| head(p) > Some(SAME_HEAD_IOU)) {
            continue;
        }
        let pass = pose_pass(&models.pose, photo, Some(detection.landmark_region()))?;
        if pass.output.presence < MIN_BACK_PRESENCE {
            continue;
        }
        // The body the landmark model sees decides whether it is someone
        // found already (the detector at 224 px places heads loosely).
        let Some(body) = pose_box(&pass, photo) else {
            continue;
        };
        if persons
            .iter()
            .any(|p| same_person(p, Some(&detection), &body, true))
        {
            continue;
        }
        persons.push(Person {
            bbox: body,
            score: detection.score,
            detection: Some(detection),
            pass,
        });
    }
    // Faces no body was found around (a head-and-shoulders crop, people
    // the body detectors miss at an angle or packed close): the full-range
    // face detector over the whole photo, each face the mesh confirms one
    // person, boxed from the head to below the shoulders.
    let faces = detect(models, photo, FaceModel::FullRange, None)?;
    for face in &faces {
        if persons.len() >= MAX_PERSONS {
            break;
        }
        if persons.iter().any(|p| p.bbox.contains(face.centre())) {
            continue;
        }
        if mesh(models, photo, face)?.presence < MIN_MESH_PRESENCE {
            continue;
        }
        let (cx, side) = (face.x + face.width / 2.0, face.width.max(face.height));
        let bbox = BoxF {
            x0: cx - 1.5 * side,
            y0: face.y - 0.5 * side,
            x1: cx + 1.5 * side,
            y1: face.y + face.height + 2.5 * side,
        }
        .clip(photo.width, photo.height);
        let pass = pose_pass(&models.pose, photo, Some(bbox.square(1.25)))?;
        persons.push(Person {
            bbox,
            score: face.score,
            detection: None,
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
        candidates: found.len() + detections + faces.len(),
        faces,
    })
}

/// Whether a person found already is the one a new `detection` (or, with
/// none, the new `body` box) shows: two detections of one head, or two
/// boxes of one body (the whole body and the upper body). A whole-photo
/// detection (`loose`, `body` from its keypoints) also matches a person
/// whose box overlaps its body that much, or holds its head and most of
/// the smaller of the two boxes.
fn same_person(p: &Person, detection: Option<&PoseDetection>, body: &BoxF, loose: bool) -> bool {
    match (detection, &p.detection) {
        (Some(d), Some(e)) if d.head.iou(&e.head) > SAME_HEAD_IOU => true,
        (Some(d), _) if loose => {
            p.bbox.iou(body) > SAME_BODY_IOU
                || p.bbox.contains(d.head.centre()) && p.bbox.overlap(body) > SAME_BODY_SHARE
        }
        (Some(_), Some(_)) => false,
        _ => p.bbox.iou(body) > SAME_BODY_IOU,
    }
}

/// The box around a landmark pass's visible keypoints, inside the photo.
fn pose_box(pass: &PosePass, photo: &RgbPhoto) -> Option<BoxF> {
    let visible = pass.output.keypoints.iter().filter(|k| k.visibility >= 0.5);
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    let mut n = 0;
    for k in visible {
        (x0, y0, x1, y1) = (x0.min(k.x), y0.min(k.y), x1.max(k.x), y1.max(k.y));
        n += 1;
    }
    (n >= 3).then(|| BoxF { x0, y0, x1, y1 }.clip(photo.width, photo.height))
}
