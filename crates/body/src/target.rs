//! A morph target: sparse per-vertex offsets (`index dx dy dz` per line,
//! gzipped), in mesh units.
use std::io::Read;

use crate::BodyError;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Target {
    pub deltas: Vec<(u32, [f32; 3])>,
}

impl Target {
    pub fn parse(text: &str, what: &str) -> Result<Self, BodyError> {
        let mut deltas = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |message: String| BodyError::Parse {
                what: what.into(),
                line: i + 1,
                message,
            };
            let mut parts = line.split_whitespace();
            let index: u32 = parts
                .next()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| err("bad vertex index".into()))?;
            let mut d = [0f32; 3];
            for slot in &mut d {
                *slot = parts
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| err("bad offset".into()))?;
            }
            deltas.push((index, d));
        }
        Ok(Target { deltas })
    }

    /// A `.target.gz` file.
    pub fn load(path: &std::path::Path) -> Result<Self, BodyError> {
        let io = |source| BodyError::Io {
            path: path.display().to_string(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let mut text = String::new();
        flate2::read::GzDecoder::new(file)
            .read_to_string(&mut text)
            .map_err(io)?;
        Self::parse(&text, &path.display().to_string())
    }

    /// `positions += weight × offsets`; offsets past the mesh are ignored.
    pub fn apply(&self, positions: &mut [[f32; 3]], weight: f32) {
        for &(i, d) in &self.deltas {
            if let Some(p) = positions.get_mut(i as usize) {
                for k in 0..3 {
                    p[k] += weight * d[k];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_parse_and_apply_with_a_weight() {
        let t = Target::parse("# a comment\n1 0 .5 -1\n\n3 2 0 0\n", "t").unwrap();
        assert_eq!(t.deltas, vec![(1, [0.0, 0.5, -1.0]), (3, [2.0, 0.0, 0.0])]);
        let mut p = vec![[0f32; 3]; 2];
        t.apply(&mut p, 0.5);
        assert_eq!(p, vec![[0.0; 3], [0.0, 0.25, -0.5]]);
        let err = Target::parse("1 0 x 0\n", "t.target")
            .unwrap_err()
            .to_string();
        assert!(err.contains("t.target, line 1"), "{err}");
    }
}
