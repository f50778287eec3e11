//! Every number the photo measurements rest on, in one place, each with
//! where it came from. Two kinds: *fitted* values (measured on rendered
//! photos of generated bodies, with the bodies and the tool named) and
//! *rules* (thresholds set by hand when `avatar.build` was written, 3b9c853,
//! and held since against the held-out benchmark bodies; `benches/README.md`).
//! Changing a fitted value means re-running its fit; changing a rule means
//! re-running the held-out benchmark (`benches/avatar/run.sh`).

/// z for a two-sided 90 % interval.
pub(super) const Z90: f32 = 1.645;

// Fitted values.

/// Inseam ÷ height = a + b · (floor → hip keypoints) ÷ (floor → nose), and
/// the residual spread, fitted on the front photos of 12 generated bodies
/// (`atelier-studio`, bodies 0–11; the benchmark scores 30 others).
pub(super) const INSEAM_FIT: (f32, f32, f32) = (0.0757, 0.7240, 0.0103);

/// What photos add to the body model's own calibration, metres: per
/// measurement the median error and its robust spread (1.4826 × median
/// absolute deviation) of the rules above on rendered photos of 30
/// generated bodies (`atelier-remeasure` on benchmark bodies 100–129: plain
/// and cluttered backdrops, 2.5–5 m away); the value is corrected by the
/// median and the spread joins the interval. The benchmark table is on
/// other bodies (200–229). The silhouette reads a little wide (soft mask
/// edges, arms close to the chest) and the chest most of all.
pub(crate) struct PhotoCorrections {
    /// Neck, chest, waist, hips with a side photo…
    pub(crate) with_side: [(f32, f32); 4],
    /// …and with the front photo alone.
    pub(crate) front_only: [(f32, f32); 4],
    pub(crate) shoulder_width: (f32, f32),
    pub(crate) arm_length: (f32, f32),
    pub(crate) inseam: (f32, f32),
}

pub(crate) const PHOTO: PhotoCorrections = PhotoCorrections {
    with_side: [
        (0.0035, 0.0111),
        (0.0325, 0.0282),
        (0.0205, 0.0185),
        (0.011, 0.0148),
    ],
    front_only: [
        (0.027, 0.0222),
        (0.0335, 0.0252),
        (0.018, 0.0096),
        (0.04, 0.0163),
    ],
    shoulder_width: (-0.004, 0.020),
    arm_length: (0.003, 0.023),
    inseam: (0.010, 0.031),
};

/// How far a girth read with the side photo and the same girth from the
/// front photo alone stray apart when both photos are sound, metres (neck,
/// chest, waist, hips): the root mean square of their difference on the
/// plain-backdrop bodies among 100–129 (20 bodies; the cluttered ones, where
/// the side view's mask takes in backdrop, strayed up to 13.5 cm at the
/// chest). Apart by more than [`SIDE_BAND`] times it, the side reading is
/// dropped for the front's.
pub(super) const SIDE_AGREES: [f32; 4] = [0.0138, 0.0422, 0.0112, 0.0125];

/// The multiple of [`SIDE_AGREES`] past which the side reading is dropped,
/// chosen on the same bodies: of 1.645, 2 and 2.5 (and no such bound), 2.5
/// gave the least girth error summed over the four (MAE 8.8 → 7.0 cm; the
/// chest 3.1 → 1.9).
pub(super) const SIDE_BAND: f32 = 2.5;

/// A section's depth ÷ width is kept within what the calibration bodies
/// span, widened by this much each way (0.9 × the least, 1.1 × the most):
/// an arm beside the chest in the front photo, or a forearm or the chin in
/// front of the body in the side photo, is cut back to it (008df12, on the
/// 56 calibration bodies)…
pub(super) const RATIO_SLACK: (f32, f32) = (0.9, 1.1);

/// …and the girth is less certain for it: this share of the girth joins its
/// 1-σ uncertainty (008df12).
pub(super) const CLAMPED_SD: f32 = 0.03;

// Rules: what a photo must show.

/// The heel keypoint's height above the floor, as a share of the height
/// (the floor is placed this far under it).
pub(super) const HEEL_HEIGHT: f32 = 0.015;

/// Pixels at or above this alpha are the person's.
pub(super) const INSIDE: u8 = 128;

/// The fewest pixels from head to floor a person may span.
pub(super) const MIN_PERSON_PX: f32 = 200.0;

/// A front photo's shoulder keypoints are at least this share of the height
/// apart; closer, the photo shows the body from the side.
pub(super) const FRONT_MIN_SPREAD: f32 = 0.07;

/// The shoulders sit at least this share of the height above the hips in a
/// person standing upright.
pub(super) const UPRIGHT_TORSO: f32 = 0.05;

/// Where up the torso (0 hips, 1 shoulders) the side photo's width is
/// compared with the front's…
pub(super) const SIDE_CHECK_AT: f32 = 0.35;

/// …a side photo wider there than this share of the front photo's, with
/// its shoulder keypoints more than [`SIDE_MAX_SPREAD`] of the height apart,
/// shows the body from the front.
pub(super) const SIDE_MAX_WIDTH_SHARE: f32 = 0.85;
pub(super) const SIDE_MAX_SPREAD: f32 = 0.1;

/// The front and side photos agree on where the shoulders and the hips are
/// within these shares of the height (best effort against photos of two
/// people).
pub(super) const SHOULDERS_AGREE: f32 = 0.05;
pub(super) const HIPS_AGREE: f32 = 0.06;

// Rules: where each girth is looked for, as shares of the torso (0 the hip
// keypoints, 1 the shoulder keypoints) unless said otherwise.

/// Sections are read at most this far apart, metres (or a pixel apart when
/// pixels are coarser).
pub(super) const BAND_STEP: f32 = 0.003;

/// The hips: their widest from this far above the crotch (metres)…
pub(super) const HIPS_FROM_CROTCH: f32 = 0.01;
/// …up to here.
pub(super) const HIPS_TO: f32 = 0.1;

/// The waist: its narrowest between these.
pub(super) const WAIST_BAND: (f32, f32) = (0.15, 0.6);

/// The chest: its widest between these, going up until the arms join the
/// front silhouette…
pub(super) const CHEST_BAND: (f32, f32) = (0.45, 0.95);
/// …which a jump in width by more than this factor from one section to the
/// next says…
pub(super) const ARMS_JOIN: f32 = 1.1;
/// …or a width past this multiple of the shoulder keypoints' spread (a busy
/// backdrop can bridge the gap under the arms).
pub(super) const CHEST_PAST_SHOULDERS: f32 = 1.25;

/// Arms folded across the chest from its first section: the chest is read
/// here instead, no wider than the shoulder keypoints…
pub(super) const FOLDED_CHEST_AT: f32 = 0.6;
/// …and this share of the girth joins its 1-σ uncertainty.
pub(super) const FOLDED_SD: f32 = 0.05;

/// The neck: its narrowest between the shoulders and this share of the way
/// up to the nose, as on the mesh ([`crate::measure`])…
pub(super) const NECK_UP_TO_NOSE: f32 = 0.5;
/// …with the nose at this share of the height when the pose model did not
/// see it.
pub(super) const NOSE_HEIGHT: f32 = 0.93;

// Rules: how sure each reading is (1 σ).

/// A mask's edge is placed within `EDGE_PX.0 + EDGE_PX.1 × softness` pixels.
pub(super) const EDGE_PX: (f32, f32) = (0.7, 2.0);

/// The head top and the soles are each placed within this many pixels…
pub(super) const END_PX: f32 = 2.0;
/// …and the camera's perspective adds this share to the scale.
pub(super) const PERSPECTIVE: f32 = 0.01;

/// A keypoint is placed within this many pixels.
pub(super) const KEYPOINT_PX: f32 = 3.0;
