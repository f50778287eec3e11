//! Vision maths, pure: tensors in the layout the models want, model outputs
//! decoded back into the photo's pixels, colour science and garment tags. No
//! I/O, no runtime.
#![forbid(unsafe_code)]

pub mod colour;
pub mod detect;
pub mod face;
pub mod garments;
mod letterbox;
pub mod person;
mod pose;
pub mod refine;
pub mod resize;
mod segment;
pub mod skin;

pub use letterbox::{Letterbox, Rect, letterbox_tensor};
pub use pose::{BLAZEPOSE_KEYPOINTS, Keypoint, PoseOutput, decode_pose};
pub use refine::{keep_near_core, refine_mask};
pub use segment::{PersonMask, PixelBox, mask_from_probabilities, stretch_tensor, upsample_mask};
