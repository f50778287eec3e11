//! Results drawn: keypoints over the photo, the cut-out on a checkerboard
//! and its mask, the skin tone on the Monk scale with its palette, garment
//! tags with colour chips, photo variants, renders, the turntable playing,
//! the avatar in 3D with its measurements, export downloads. Colours are
//! SVG fills (the CSP allows no inline style); objects are read through
//! the session (`/console/objects/…`), never through a signed link that
//! could leak from a page.
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use maud::{Markup, html};
use serde_json::Value;

use super::session::Session;
use super::{ConsoleError, Page};
use crate::state::AppState;

/// `GET /console/objects/{key}`: a stored object, for a signed-in browser.
pub(crate) async fn object(
    State(state): State<AppState>,
    _session: Session,
    Path(key): Path<String>,
) -> Page {
    let (size, stream) = state.storage.get_stream(&key).await?;
    // An upload's key has no extension: its type is the one it came with.
    let uploaded = match key
        .strip_prefix("uploads/")
        .and_then(|k| k.rsplit('/').next())
    {
        Some(id) => match id.parse() {
            Ok(id) => atelier_db::uploads::get_upload(&state.pool, id)
                .await?
                .map(|u| u.content_type),
            Err(_) => None,
        },
        None => None,
    };
    let format = key.rsplit('.').next().unwrap_or("");
    let content_type = match format {
        "glb" => "model/gltf-binary",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "pdf" => "application/pdf",
        "json" => "application/json",
        other => atelier_storage::content_type(other),
    };
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    let content_type = uploaded
        .filter(|t| t.starts_with("image/"))
        .and_then(|t| HeaderValue::from_str(&t).ok())
        .unwrap_or(HeaderValue::from_static(content_type));
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=300"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    Ok(response)
}

pub(crate) fn object_url(key: &str) -> String {
    format!("/console/objects/{key}")
}

fn key_of(object: &Value) -> Option<&str> {
    object["key"].as_str()
}

fn swatch(hex: &str, label: &str) -> Markup {
    let fill = if hex.starts_with('#') {
        hex.to_owned()
    } else {
        format!("#{hex}")
    };
    html! {
        svg.swatch width="28" height="28" viewBox="0 0 28 28" role="img" aria-label=(label) {
            rect x="1" y="1" width="26" height="26" rx="4" fill=(fill) stroke="#0006";
        }
    }
}

fn pct(v: &Value) -> String {
    v.as_f64()
        .map_or("—".into(), |f| format!("{:.0} %", f * 100.0))
}

/// The photo of a vision job (its upload), when there is one.
pub(crate) async fn upload_key(state: &AppState, input: &Value) -> Option<String> {
    let id = input["upload_id"].as_str()?.parse().ok()?;
    atelier_db::uploads::get_upload(&state.pool, id)
        .await
        .ok()
        .flatten()
        .map(|u| u.storage_key)
}

/// A finished job's result drawn, with the result as shown (an export's
/// file signed); `None` before it has one.
pub(crate) async fn job_result(
    state: &AppState,
    job: &atelier_db::JobRow,
) -> Result<Option<(Markup, Value)>, crate::error::ApiError> {
    let Some(result) = &job.result else {
        return Ok(None);
    };
    let photo = upload_key(state, &job.input).await;
    let mut shown = result.clone();
    if job.kind == atelier_jobs::JobKind::Export {
        crate::jobs::sign_objects(state, &mut shown).await?;
    }
    Ok(Some((
        self::result(job.kind.as_str(), &shown, photo.as_deref()),
        shown,
    )))
}

/// The result of `kind`, drawn; `photo` is the job's photo when it has one.
pub(crate) fn result(kind: &str, result: &Value, photo: Option<&str>) -> Markup {
    html! {
        div.drawn data-kind=(kind) {
            @match kind {
                "vision.pose" => (pose(result, photo)),
                "vision.segment" => (segment(result, photo)),
                "vision.skin_tone" => (skin(result, photo)),
                "vision.tag" => (tags(result, photo)),
                "vision.embed" => (embed(result)),
                "photo.ingest" => (ingest(result)),
                "avatar.build" => (avatar(result)),
                "render.stills" => (stills(result)),
                "render.turntable" => (turntable(result)),
                "export" => (export(result)),
                _ => {}
            }
        }
    }
}

fn photo_img(photo: Option<&str>, alt: &str) -> Markup {
    html! {
        @if let Some(key) = photo {
            img.photo src=(object_url(key)) alt=(alt);
        }
    }
}

fn pose(r: &Value, photo: Option<&str>) -> Markup {
    let people = r["persons"].as_array().map_or(0, Vec::len);
    let points: Vec<Value> = match r["persons"].as_array() {
        Some(persons) if !persons.is_empty() => {
            persons.iter().map(|p| p["keypoints"].clone()).collect()
        }
        _ => vec![r["keypoints"].clone()],
    };
    html! {
        p { "Person present: " strong { (r["person_present"].as_bool().unwrap_or(false)) } " · people: " (people) " · score " (pct(&r["score"])) }
        @if let Some(key) = photo {
            figure.overlay data-draw="keypoints"
                data-points=(Value::Array(points).to_string())
                data-width=(r["image"]["width"].as_u64().unwrap_or(0))
                data-height=(r["image"]["height"].as_u64().unwrap_or(0)) {
                div.stack {
                    img src=(object_url(key)) alt="The photo";
                    canvas aria-label="Body keypoints drawn over the photo" role="img" {}
                }
                figcaption { "Keypoints over the photo (dots: visible; rings: likely hidden)" }
            }
        }
    }
}

fn segment(r: &Value, photo: Option<&str>) -> Markup {
    html! {
        p { "Person present: " strong { (r["person_present"].as_bool().unwrap_or(false)) } " · coverage " (pct(&r["coverage"])) " · edges: " (r["edges"].as_str().unwrap_or("")) }
        div.gallery {
            @if let Some(key) = key_of(&r["cutout"]) {
                figure { img.checker src=(object_url(key)) alt="The cut-out on a checkerboard"; figcaption { "Cut-out" } }
            }
            @if let Some(key) = key_of(&r["mask"]) {
                figure { img src=(object_url(key)) alt="The person mask"; figcaption { "Mask" } }
            }
            @if photo.is_some() { figure { (photo_img(photo, "The photo")) figcaption { "Photo" } } }
        }
    }
}

fn skin(r: &Value, photo: Option<&str>) -> Markup {
    let scale = r["monk"]["scale"].as_u64().unwrap_or(0) as usize;
    let hex = r["hex"].as_str().unwrap_or("#000");
    let list = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    html! {
        div.skin {
            div {
                (swatch(hex, &format!("Measured skin colour {hex}")))
                " " strong { "Monk " (scale) } " · " (hex) " · undertone " (r["undertone"].as_str().unwrap_or("")) " · confidence " (pct(&r["confidence"]))
            }
            ol.monk aria-label="The Monk Skin Tone scale" {
                @for (i, tone) in atelier_jobs::MONK_SCALE.iter().enumerate() {
                    li class=[(i + 1 == scale).then_some("picked")] aria-current=[(i + 1 == scale).then_some("true")] {
                        (swatch(tone, &format!("Monk {}", i + 1))) span { (i + 1) }
                    }
                }
            }
            p { "Season: " strong { (r["palette"]["season"].as_str().unwrap_or("")) } " (" (r["palette"]["sub_season"].as_str().unwrap_or("")) ")" }
            div.chips { span.muted { "Wear: " } @for c in list(&r["palette"]["recommended"]) { (swatch(&c, &c)) } }
            div.chips { span.muted { "Avoid: " } @for c in list(&r["palette"]["avoid"]) { (swatch(&c, &c)) } }
            (photo_img(photo, "The photo"))
        }
    }
}

fn tags(r: &Value, photo: Option<&str>) -> Markup {
    html! {
        div.tags {
            ul.chips aria-label="Garments" {
                @for g in r["garments"].as_array().into_iter().flatten() {
                    li.tag { (g["label"].as_str().unwrap_or("")) " (" (g["category"].as_str().unwrap_or("")) ") " span.muted { (pct(&g["score"])) } }
                }
            }
            ul.chips aria-label="Colours" {
                @for c in r["colours"].as_array().into_iter().flatten() {
                    @let hex = c["hex"].as_str().unwrap_or("#000");
                    li { (swatch(hex, hex)) " " (c["name"].as_str().unwrap_or("")) " " span.muted { (pct(&c["share"])) } }
                }
            }
            p { "Season: " (r["season"]["season"].as_str().unwrap_or("")) " — " span.muted { (r["season"]["reason"].as_str().unwrap_or("")) } }
            (photo_img(photo, "The photo"))
        }
    }
}

fn embed(r: &Value) -> Markup {
    let head: Vec<String> = r["vector"]
        .as_array()
        .map(|v| {
            v.iter()
                .take(8)
                .filter_map(Value::as_f64)
                .map(|f| format!("{f:.3}"))
                .collect()
        })
        .unwrap_or_default();
    html! {
        p { (r["modality"].as_str().unwrap_or("")) " embedding, " (r["dim"].as_u64().unwrap_or(0)) " dimensions, model " (r["model"]["name"].as_str().unwrap_or("")) }
        p.muted { "First values: " (head.join(", ")) " …" }
    }
}

fn ingest(r: &Value) -> Markup {
    html! {
        div.gallery {
            @if let Some(key) = key_of(&r["thumbnail"]) {
                figure { img src=(object_url(key)) alt="Thumbnail"; figcaption { "Thumbnail" } }
            }
        }
        ul {
            @for v in r["variants"].as_array().into_iter().flatten() {
                @if let Some(key) = key_of(v) {
                    li { a href=(object_url(key)) { (v["format"].as_str().unwrap_or("")) " " (v["width"]) "×" (v["height"]) } " " span.muted { (v["bytes"]) " bytes" } }
                }
            }
        }
    }
}

fn avatar(r: &Value) -> Markup {
    let m = &r["measurements"];
    let unit = m["unit"].as_str().unwrap_or("");
    let rows = [
        "height",
        "shoulder_width",
        "chest",
        "waist",
        "hips",
        "neck",
        "inseam",
        "arm_length",
    ];
    let models: Vec<&Value> = r["models"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    html! {
        div.avatar {
            @if let Some(first) = models.first().and_then(|m| key_of(m)) {
                figure.viewer data-viewer=(object_url(first)) {
                    canvas aria-label="The avatar in 3D (drag to turn)" role="img" {}
                    figcaption {
                        "Level of detail: "
                        @for (i, model) in models.iter().enumerate() {
                            @if let Some(key) = key_of(model) {
                                button type="button" data-lod=(object_url(key)) aria-pressed=(if i == 0 { "true" } else { "false" }) {
                                    "LOD " (model["lod"]) " (" (model["compression"].as_str().unwrap_or("")) ", " (model["triangles"]) " triangles)"
                                }
                            }
                        }
                    }
                }
            }
            table.measures {
                caption { "Measurements (" (unit) ", ± the 90 % interval's half-width)" }
                tbody {
                    @for name in rows {
                        tr { th scope="row" { (name.replace('_', " ")) } td.num { (m[name]["value"]) " ± " (m[name]["uncertainty"]) } }
                    }
                }
            }
            @if let Some(key) = key_of(&r["preview"]) {
                figure { img src=(object_url(key)) alt="The avatar's preview still"; figcaption { "Preview" } }
            }
        }
    }
}

fn stills(r: &Value) -> Markup {
    html! {
        div.gallery {
            @for s in r["renders"].as_array().into_iter().flatten() {
                @if let Some(key) = key_of(&s["object"]) {
                    figure { img src=(object_url(key)) alt={ "Render from the " (s["camera"].as_str().unwrap_or("")) }; figcaption { (s["camera"].as_str().unwrap_or("")) } }
                }
            }
        }
    }
}

fn turntable(r: &Value) -> Markup {
    html! {
        div.gallery {
            @for v in r["videos"].as_array().into_iter().flatten() {
                @if let Some(key) = v["key"].as_str() {
                    figure {
                        video src=(object_url(key)) controls autoplay muted loop playsinline width=(v["width"].as_u64().unwrap_or(640).min(480)) {}
                        figcaption { (v["format"].as_str().unwrap_or("")) " " (v["codec"].as_str().unwrap_or("")) " " (v["width"]) "×" (v["height"]) ", " (v["frames"]) " frames" }
                    }
                }
            }
        }
    }
}

/// The export's file by its signed link (the result is signed for the
/// page: a link that can be handed on, valid for `storage.url_ttl`).
fn export(r: &Value) -> Markup {
    let file = &r["file"];
    html! {
        @if let Some(key) = file["key"].as_str() {
            @let href = file["url"].as_str().map_or_else(|| object_url(key), str::to_owned);
            p {
                a.button href=(href) download { "Download " (file["format"].as_str().unwrap_or("")) }
                " " span.muted { (file["bytes"]) " bytes · a signed link, valid for a limited time" }
            }
        }
    }
}

/// An error page for a missing object is the storage error's.
impl From<atelier_storage::StorageError> for ConsoleError {
    fn from(e: atelier_storage::StorageError) -> Self {
        ConsoleError(e.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_skin_tone_is_drawn_on_the_whole_monk_scale_with_its_own_marked() {
        let r = json!({"monk": {"scale": 4, "hex": "#eadaba"}, "hex": "#e0c8a8",
                       "undertone": "warm", "confidence": 0.8,
                       "palette": {"season": "autumn", "sub_season": "soft autumn",
                                   "recommended": ["#8a5a44", "#c08040"], "avoid": ["#00ffff"]}});
        let html = result("vision.skin_tone", &r, None).into_string();
        assert_eq!(html.matches("<li").count(), 10, "{html}");
        assert_eq!(html.matches("aria-current=\"true\"").count(), 1);
        assert!(
            html.contains("Monk 4") && html.contains("fill=\"#8a5a44\""),
            "{html}"
        );
    }

    #[test]
    fn keypoints_travel_to_the_page_with_the_photo_and_text_is_escaped() {
        let r = json!({"person_present": true, "score": 0.9, "image": {"width": 640, "height": 480},
                       "keypoints": [{"name": "nose", "x": 10.0, "y": 20.0, "z": 0.0, "visibility": 0.99}],
                       "persons": []});
        let html = result("vision.pose", &r, Some("uploads/a.jpg")).into_string();
        assert!(html.contains("data-draw=\"keypoints\""), "{html}");
        assert!(html.contains("/console/objects/uploads/a.jpg"), "{html}");
        assert!(html.contains("&quot;nose&quot;"), "{html}");
        let tags = json!({"garments": [{"label": "<script>", "category": "top", "score": 0.5}],
                          "colours": [], "season": {}});
        let html = result("vision.tag", &tags, None).into_string();
        assert!(
            !html.contains("<script>") && html.contains("&lt;script&gt;"),
            "{html}"
        );
    }

    #[test]
    fn an_avatar_offers_each_level_of_detail_and_its_measurements_with_their_margin() {
        let m = |v: f64| json!({"value": v, "uncertainty": 1.5});
        let r = json!({"measurements": {"unit": "cm", "height": m(170.0), "chest": m(90.0)},
                       "models": [{"lod": 0, "key": "a/0.glb", "compression": "meshopt", "triangles": 20000},
                                  {"lod": 1, "key": "a/1.glb", "compression": "meshopt", "triangles": 10000}],
                       "preview": {"key": "a/p.png", "format": "png"}});
        let html = result("avatar.build", &r, None).into_string();
        assert!(
            html.contains("data-viewer=\"/console/objects/a/0.glb\""),
            "{html}"
        );
        assert_eq!(html.matches("data-lod=").count(), 2);
        assert!(html.contains("170.0 ± 1.5"), "{html}");
    }
}
