//! The base mesh (Wavefront OBJ): every vertex (morph targets index into
//! all of them), texture coordinates, and faces by group: `body` is the
//! skin, `helper-*` are clothing and fitting helpers, `joint-*` small cubes
//! marking where the skeleton's joints sit.
use std::collections::BTreeMap;

use crate::BodyError;

/// A polygon: vertex indices and texture-coordinate indices (0-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Face {
    pub vertices: Vec<u32>,
    pub uvs: Vec<u32>,
}

#[derive(Debug, Clone)]
pub struct BaseMesh {
    pub positions: Vec<[f32; 3]>,
    pub uvs: Vec<[f32; 2]>,
    pub groups: BTreeMap<String, Vec<Face>>,
}

impl BaseMesh {
    pub fn parse(text: &str) -> Result<Self, BodyError> {
        let mut mesh = BaseMesh {
            positions: Vec::new(),
            uvs: Vec::new(),
            groups: BTreeMap::new(),
        };
        let mut group = String::from("default");
        for (i, line) in text.lines().enumerate() {
            let err = |message: String| BodyError::Parse {
                what: "base.obj".into(),
                line: i + 1,
                message,
            };
            let mut parts = line.split_whitespace();
            match parts.next() {
                Some("v") => {
                    let v = floats::<3>(parts).map_err(err)?;
                    mesh.positions.push(v);
                }
                Some("vt") => {
                    let v = floats::<2>(parts).map_err(err)?;
                    mesh.uvs.push(v);
                }
                Some("g") => group = parts.collect::<Vec<_>>().join(" "),
                Some("f") => {
                    let mut face = Face {
                        vertices: Vec::new(),
                        uvs: Vec::new(),
                    };
                    for corner in parts {
                        let mut ids = corner.split('/');
                        let index = |s: Option<&str>, len: usize| -> Result<Option<u32>, String> {
                            match s.filter(|s| !s.is_empty()) {
                                None => Ok(None),
                                Some(s) => {
                                    let n: usize =
                                        s.parse().map_err(|_| format!("bad index {s}"))?;
                                    if n == 0 || n > len {
                                        return Err(format!("index {n} out of 1..={len}"));
                                    }
                                    Ok(Some((n - 1) as u32))
                                }
                            }
                        };
                        let v = index(ids.next(), mesh.positions.len())
                            .map_err(err)?
                            .ok_or_else(|| err("a face corner without a vertex".into()))?;
                        face.vertices.push(v);
                        if let Some(t) = index(ids.next(), mesh.uvs.len()).map_err(err)? {
                            face.uvs.push(t);
                        }
                    }
                    if face.vertices.len() < 3 {
                        return Err(err("a face with fewer than 3 corners".into()));
                    }
                    mesh.groups.entry(group.clone()).or_default().push(face);
                }
                _ => {}
            }
        }
        Ok(mesh)
    }

    pub fn load(path: &std::path::Path) -> Result<Self, BodyError> {
        let text = std::fs::read_to_string(path).map_err(|source| BodyError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text)
    }

    pub fn group(&self, name: &str) -> Result<&[Face], BodyError> {
        self.groups
            .get(name)
            .map(Vec::as_slice)
            .ok_or_else(|| BodyError::NoGroup(name.into()))
    }

    /// A group's polygons as triangles (fans), vertex indices.
    pub fn triangles(&self, name: &str) -> Result<Vec<[u32; 3]>, BodyError> {
        let mut out = Vec::new();
        for f in self.group(name)? {
            for k in 1..f.vertices.len() - 1 {
                out.push([f.vertices[0], f.vertices[k], f.vertices[k + 1]]);
            }
        }
        Ok(out)
    }

    /// The vertices a group uses, ascending, each once.
    pub fn group_vertices(&self, name: &str) -> Result<Vec<u32>, BodyError> {
        let mut v: Vec<u32> = self
            .group(name)?
            .iter()
            .flat_map(|f| f.vertices.iter().copied())
            .collect();
        v.sort_unstable();
        v.dedup();
        Ok(v)
    }

    /// The centre of a group's vertices in `positions` (a shaped body): where
    /// a `joint-*` helper puts its joint.
    pub fn centre(&self, name: &str, positions: &[[f32; 3]]) -> Result<[f32; 3], BodyError> {
        let v = self.group_vertices(name)?;
        let mut c = [0f32; 3];
        for &i in &v {
            for k in 0..3 {
                c[k] += positions[i as usize][k];
            }
        }
        Ok(c.map(|x| x / v.len().max(1) as f32))
    }
}

fn floats<'a, const N: usize>(
    mut parts: impl Iterator<Item = &'a str>,
) -> Result<[f32; N], String> {
    let mut out = [0f32; N];
    for slot in &mut out {
        let s = parts.next().ok_or("too few numbers")?;
        *slot = s.parse().map_err(|_| format!("bad number {s}"))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUAD: &str = "v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nvt 0 0\nvt 1 0\nvt 1 1\nvt 0 1\ng body\nf 1/1 2/2 3/3 4/4\ng joint-x\nf 1 2 3\n";

    #[test]
    fn groups_triangles_and_centres() {
        let m = BaseMesh::parse(QUAD).unwrap();
        assert_eq!(m.positions.len(), 4);
        assert_eq!(m.group("body").unwrap()[0].uvs, vec![0, 1, 2, 3]);
        assert_eq!(m.triangles("body").unwrap(), vec![[0, 1, 2], [0, 2, 3]]);
        assert_eq!(m.group_vertices("joint-x").unwrap(), vec![0, 1, 2]);
        let c = m.centre("body", &m.positions).unwrap();
        assert_eq!(c, [0.5, 0.5, 0.0]);
        assert!(matches!(m.group("nope"), Err(BodyError::NoGroup(_))));
    }

    #[test]
    fn bad_lines_name_their_line() {
        let err = BaseMesh::parse("v 0 0 0\nf 1 2 3\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2") && err.contains("out of"), "{err}");
        let err = BaseMesh::parse("v 0 zero 0\n").unwrap_err().to_string();
        assert!(err.contains("line 1") && err.contains("zero"), "{err}");
    }
}
