//! The console's static files, embedded in the binary at build time (no
//! CDN, no Node at build): its own script and style, and the vendored
//! libraries (`crates/intake/console/vendor/`, each with its licence and
//! checksum in `VENDOR.md`). Each URL carries the file's hash, so a file is
//! cached for good and a new build's file is a new URL.
use std::sync::OnceLock;

use axum::extract::{Path, RawQuery};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $type:expr, $path:literal) => {
        Asset {
            name: $name,
            content_type: $type,
            bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/console/", $path)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

static ASSETS: &[Asset] = &[
    asset!("console.js", JS, "console.js"),
    asset!("console.css", CSS, "console.css"),
    asset!("uplot.js", JS, "vendor/uplot/uPlot.iife.min.js"),
    asset!("uplot.css", CSS, "vendor/uplot/uPlot.min.css"),
    asset!("viewer.js", JS, "vendor/viewer.bundle.js"),
    asset!(
        "draco_wasm_wrapper.js",
        JS,
        "vendor/draco/draco_wasm_wrapper.js"
    ),
    asset!(
        "draco_decoder.wasm",
        "application/wasm",
        "vendor/draco/draco_decoder.wasm"
    ),
];

fn hashes() -> &'static Vec<String> {
    static HASHES: OnceLock<Vec<String>> = OnceLock::new();
    HASHES.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| hex::encode(&Sha256::digest(a.bytes)[..6]))
            .collect()
    })
}

/// The URL of asset `name` (a name not in the table is a bug: it panics in
/// tests, which render every page).
pub(crate) fn url(name: &str) -> String {
    let index = ASSETS
        .iter()
        .position(|a| a.name == name)
        .unwrap_or_else(|| panic!("no console asset {name}"));
    format!("/console/assets/{name}?v={}", hashes()[index])
}

/// The URLs the page's script loads on demand, by name.
pub(crate) fn script_urls() -> serde_json::Value {
    let lazy = [
        "uplot.js",
        "uplot.css",
        "viewer.js",
        "draco_wasm_wrapper.js",
        "draco_decoder.wasm",
    ];
    serde_json::Value::Object(
        lazy.iter()
            .map(|name| ((*name).to_owned(), serde_json::Value::String(url(name))))
            .collect(),
    )
}

/// `GET /console/assets/{name}`: no session needed (nothing in them is
/// private); cached for a year under a hashed URL, an hour without.
pub(crate) async fn serve(Path(name): Path<String>, RawQuery(query): RawQuery) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let cache = if query.is_some_and(|q| q.starts_with("v=")) {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=3600"
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        asset.bytes,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every vendored file is the one `VENDOR.md` lists, byte for byte.
    #[test]
    fn the_vendored_files_match_their_recorded_checksums() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("console/vendor");
        let listing = std::fs::read_to_string(dir.join("VENDOR.md")).unwrap();
        let mut checked = 0;
        for row in listing.lines().filter(|l| l.starts_with('|')) {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let (Some(file), Some(sum)) = (cells.get(4), cells.get(5)) else {
                continue;
            };
            let (Some(file), Some(sum)) = (file.split('`').nth(1), sum.split('`').nth(1)) else {
                continue;
            };
            let bytes = std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(hex::encode(Sha256::digest(&bytes)), sum, "{file}");
            checked += 1;
        }
        assert_eq!(checked, 5, "{listing}");
    }

    #[test]
    fn every_embedded_asset_has_a_hashed_url() {
        for asset in ASSETS {
            assert!(url(asset.name).contains("?v="));
        }
        let urls = script_urls();
        assert!(
            urls["viewer.js"]
                .as_str()
                .unwrap()
                .starts_with("/console/assets/viewer.js?v=")
        );
    }
}
