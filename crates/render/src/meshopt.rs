//! `EXT_meshopt_compression`: buffer views stored compressed (gltfpack's
//! `-cc`), decoded with meshoptimizer's own decoder before any accessor reads
//! them. Sizes come from the extension's `count` × `byteStride`, checked
//! against the view they replace before anything is allocated.
use serde_json::Value;

use crate::error::{RenderError, Result};

fn invalid(message: String) -> RenderError {
    RenderError::InvalidModel(message)
}

/// The extension object of a view, parsed.
pub struct Compressed {
    pub buffer: usize,
    pub offset: usize,
    pub length: usize,
    pub stride: usize,
    pub count: usize,
    mode: String,
    filter: String,
}

impl Compressed {
    pub fn parse(view: usize, ext: &Value) -> Result<Compressed> {
        let num = |k: &str| ext.get(k).and_then(Value::as_u64).map(|v| v as usize);
        let field = |k: &str| {
            num(k).ok_or_else(|| {
                invalid(format!(
                    "bufferView {view}: EXT_meshopt_compression.{k} is missing"
                ))
            })
        };
        Ok(Compressed {
            buffer: field("buffer")?,
            offset: num("byteOffset").unwrap_or(0),
            length: field("byteLength")?,
            stride: field("byteStride")?,
            count: field("count")?,
            mode: ext
                .get("mode")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            filter: ext
                .get("filter")
                .and_then(Value::as_str)
                .unwrap_or("NONE")
                .to_owned(),
        })
    }

    /// Decode `data` (the compressed bytes) into `count × stride` bytes.
    pub fn decode(&self, view: usize, data: &[u8], view_length: usize) -> Result<Vec<u8>> {
        let size = self.count.checked_mul(self.stride);
        if !matches!(size, Some(s) if s <= view_length) {
            return Err(invalid(format!(
                "bufferView {view}: {} × {} decoded bytes do not fit its byteLength {view_length}",
                self.count, self.stride
            )));
        }
        let fail = |e: meshopt::Error| invalid(format!("bufferView {view}: meshopt: {e:?}"));
        match self.mode.as_str() {
            "ATTRIBUTES" => {
                if !self.stride.is_multiple_of(4) || self.stride == 0 || self.stride > 128 {
                    return Err(invalid(format!(
                        "bufferView {view}: attribute stride {} is not a multiple of 4 up to 128",
                        self.stride
                    )));
                }
                let mut words = decode_words(self.stride / 4, data, self.count).map_err(fail)?;
                self.unfilter(view, &mut words)?;
                Ok(bytemuck::cast_slice(&words).to_vec())
            }
            "TRIANGLES" | "INDICES" => {
                let sequence = self.mode == "INDICES";
                match self.stride {
                    2 => {
                        let v: Vec<u16> = if sequence {
                            meshopt::decode_index_sequence(data, self.count).map_err(fail)?
                        } else {
                            meshopt::decode_index_buffer(data, self.count).map_err(fail)?
                        };
                        Ok(bytemuck::cast_slice(&v).to_vec())
                    }
                    4 => {
                        let v: Vec<u32> = if sequence {
                            meshopt::decode_index_sequence(data, self.count).map_err(fail)?
                        } else {
                            meshopt::decode_index_buffer(data, self.count).map_err(fail)?
                        };
                        Ok(bytemuck::cast_slice(&v).to_vec())
                    }
                    s => Err(invalid(format!("bufferView {view}: index stride {s}"))),
                }
            }
            other => Err(invalid(format!(
                "bufferView {view}: EXT_meshopt_compression mode {other:?}"
            ))),
        }
    }

    fn unfilter(&self, view: usize, words: &mut [u32]) -> Result<()> {
        let bad = || {
            invalid(format!(
                "bufferView {view}: filter {} with stride {}",
                self.filter, self.stride
            ))
        };
        match (self.filter.as_str(), self.stride) {
            ("NONE", _) => {}
            ("OCTAHEDRAL", 4) => {
                meshopt::decode_filter_oct::<i8>(bytemuck::cast_slice_mut(words));
            }
            ("OCTAHEDRAL", 8) => {
                meshopt::decode_filter_oct::<i16>(bytemuck::cast_slice_mut(words));
            }
            ("QUATERNION", 8) => meshopt::decode_filter_quat(bytemuck::cast_slice_mut(words)),
            // One exponent-mantissa word per component: each decodes alone.
            ("EXPONENTIAL", _) => {
                meshopt::decode_filter_exp::<1>(bytemuck::cast_slice_mut(words));
            }
            _ => return Err(bad()),
        }
        Ok(())
    }
}

/// `meshopt_decodeVertexBuffer` for a stride of `k` 32-bit words.
fn decode_words(
    k: usize,
    data: &[u8],
    count: usize,
) -> std::result::Result<Vec<u32>, meshopt::Error> {
    macro_rules! by_words {
        ($($n:literal)*) => {
            match k {
                $($n => meshopt::decode_vertex_buffer::<[u32; $n]>(data, count)
                    .map(|v| bytemuck::cast_slice(&v).to_vec()),)*
                _ => unreachable!("stride checked above"),
            }
        };
    }
    by_words!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32)
}
