//! Faces: a BlazeFace run (short range on a crop, full range anywhere) and
//! the face mesh on a face's levelled crop. `vision.skin_tone` reads skin
//! through them; the people rule (`people.rs`) takes a face the mesh
//! confirms as a person where no body was found.
use atelier_media::RgbPhoto;
use atelier_runtime::JobFailure;
use atelier_vision::face::{Face, FaceModel, MESH_SIZE, faces};
use atelier_vision::letterbox_tensor;

use super::models::VisionModels;
use super::run_image;

/// Faces of one detector run over `region` of the photo (`None`: all of
/// it).
pub(crate) fn detect(
    models: &VisionModels,
    photo: &RgbPhoto,
    model: FaceModel,
    region: Option<atelier_vision::Rect>,
) -> Result<Vec<Face>, JobFailure> {
    let size = model.size();
    let (tensor, lb) = letterbox_tensor(
        &photo.data,
        photo.width,
        photo.height,
        region,
        size,
        (2.0, -1.0),
    );
    let (detector, boxes, scores) = match model {
        FaceModel::ShortRange => (&models.face_detect, "regressors", "classificators"),
        FaceModel::FullRange => (
            &models.face_detect_full,
            "reshaped_regressor_face_4",
            "reshaped_classifier_face_4",
        ),
    };
    let mut out = run_image(detector, "input", size, &tensor)?;
    let regressors = out.take(boxes)?;
    let logits = out.take(scores)?;
    Ok(faces(model, &regressors, &logits, &lb))
}

/// The face mesh on `face`'s levelled crop: its 468 points (raw, in crop
/// pixels) and how sure it is a face is there.
pub(crate) struct Mesh {
    pub raw: Vec<f32>,
    pub presence: f32,
}

pub(crate) fn mesh(
    models: &VisionModels,
    photo: &RgbPhoto,
    face: &Face,
) -> Result<Mesh, JobFailure> {
    let crop = face.mesh_crop();
    let tensor = crop.tensor(&photo.data, photo.width, photo.height, (1.0, 0.0));
    let mut out = run_image(&models.face_mesh, "input_1", MESH_SIZE, &tensor)?;
    let raw = out.take("conv2d_20")?;
    let logit = out
        .take("conv2d_30")?
        .first()
        .copied()
        .unwrap_or(f32::NEG_INFINITY);
    Ok(Mesh {
        raw,
        presence: 1.0 / (1.0 + (-logit).exp()),
    })
}
