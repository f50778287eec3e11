//! Buffer views and accessors read by our own code: every accessor
//! bounds-checked against its view, normalised integers dequantised
//! (`KHR_mesh_quantization`).
use gltf::accessor::{DataType, Dimensions};

use super::invalid;
use super::loader::Loader;
use crate::error::{RenderError, Result};

impl Loader<'_> {
    /// The bytes of a buffer view, bounds-checked.
    pub(super) fn view_bytes(&self, view: &gltf::buffer::View) -> Result<&[u8]> {
        if let Some(bytes) = self.decoded.get(&view.index()) {
            return Ok(bytes);
        }
        let buffer = &self.buffers[view.buffer().index()];
        let end = view.offset().checked_add(view.length());
        match end {
            Some(end) if end <= buffer.len() => Ok(&buffer[view.offset()..end]),
            _ => Err(invalid(format!(
                "bufferView {} reaches past the end of buffer {}",
                view.index(),
                view.buffer().index()
            ))),
        }
    }

    /// An accessor as `N` floats per element, normalised integers mapped to
    /// [0, 1] / [-1, 1] (KHR_mesh_quantization stores positions, normals and
    /// texture coordinates as integers).
    pub(super) fn read<const N: usize>(&self, accessor: &gltf::Accessor) -> Result<Vec<[f32; N]>> {
        let components = match accessor.dimensions() {
            Dimensions::Scalar => 1,
            Dimensions::Vec2 => 2,
            Dimensions::Vec3 => 3,
            Dimensions::Vec4 => 4,
            Dimensions::Mat4 => 16,
            other => {
                return Err(invalid(format!(
                    "accessor {}: type {other:?} where a vector was expected",
                    accessor.index()
                )));
            }
        };
        if components < N {
            return Err(invalid(format!(
                "accessor {}: {components} components where {N} were expected",
                accessor.index()
            )));
        }
        if accessor.sparse().is_some() {
            return Err(RenderError::UnsupportedModel(format!(
                "accessor {}: sparse accessors are not supported",
                accessor.index()
            )));
        }
        let count = accessor.count();
        let Some(view) = accessor.view() else {
            return Ok(vec![[0.0; N]; count]);
        };
        let bytes = self.view_bytes(&view)?;
        let size = accessor.data_type().size();
        let element = size * components;
        let stride = view.stride().unwrap_or(element);
        let offset = accessor.offset();
        let needed = count.checked_sub(1).map_or(Some(0), |last| {
            last.checked_mul(stride)
                .and_then(|s| s.checked_add(offset))
                .and_then(|s| s.checked_add(element))
        });
        if !matches!(needed, Some(n) if n <= bytes.len()) || stride < element {
            return Err(invalid(format!(
                "accessor {}: {count} elements do not fit in bufferView {}",
                accessor.index(),
                view.index()
            )));
        }
        let normalized = accessor.normalized();
        let kind = accessor.data_type();
        let mut out = Vec::with_capacity(count);
        for i in 0..count {
            let at = offset + i * stride;
            let mut v = [0.0f32; N];
            for (c, slot) in v.iter_mut().enumerate() {
                let b = &bytes[at + c * size..at + (c + 1) * size];
                *slot = component(kind, b, normalized);
            }
            out.push(v);
        }
        Ok(out)
    }
}
fn component(kind: DataType, b: &[u8], normalized: bool) -> f32 {
    match kind {
        DataType::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        DataType::U32 => u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32,
        DataType::I8 => {
            let v = b[0] as i8 as f32;
            if normalized { (v / 127.0).max(-1.0) } else { v }
        }
        DataType::U8 => {
            let v = b[0] as f32;
            if normalized { v / 255.0 } else { v }
        }
        DataType::I16 => {
            let v = i16::from_le_bytes([b[0], b[1]]) as f32;
            if normalized {
                (v / 32767.0).max(-1.0)
            } else {
                v
            }
        }
        DataType::U16 => {
            let v = u16::from_le_bytes([b[0], b[1]]) as f32;
            if normalized { v / 65535.0 } else { v }
        }
    }
}
