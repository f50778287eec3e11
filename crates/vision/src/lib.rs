//! Vision maths, pure: tensors in the layout the models want, and model
//! outputs decoded back into the photo's pixels. No I/O, no runtime.
#![forbid(unsafe_code)]

mod letterbox;
mod pose;

pub use letterbox::{Letterbox, Rect, letterbox_tensor};
pub use pose::{
    BLAZEPOSE_KEYPOINTS, Keypoint, MIN_MASK_COVERAGE, MIN_PRESENCE, PoseOutput, crop_around,
    decode_pose,
};
