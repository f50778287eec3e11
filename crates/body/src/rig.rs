//! The standard rig's game-engine skeleton (`rigs/standard/rig.game_engine.json`,
//! 53 bones: pelvis, three spine bones, neck, head, clavicles, arms, hands
//! with fingers, legs, feet) and its vertex weights
//! (`weights.game_engine.json`). A bone's head is placed on the shaped body
//! the way MakeHuman places it: the centre of a `joint-*` helper group
//! (`CUBE`) or the mean of listed vertices (`MEAN`), so the skeleton follows
//! every shape the fit makes.
use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use crate::{BaseMesh, BodyError};

/// Where a bone's head sits on the mesh.
#[derive(Debug, Clone, PartialEq)]
enum Anchor {
    /// The centre of a `joint-*` vertex group.
    Group(String),
    /// The mean of these base-mesh vertices.
    Mean(Vec<u32>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Bone {
    pub name: String,
    /// Index into [`Rig::bones`]; parents come before their children.
    pub parent: Option<usize>,
    head: Anchor,
}

/// A bone placed on a shaped body (mesh units).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Joint {
    pub name: String,
    pub parent: Option<usize>,
    pub head: [f32; 3],
}

/// Most bones one vertex follows (glTF's `JOINTS_0`/`WEIGHTS_0`).
pub const INFLUENCES: usize = 4;

#[derive(Debug, Clone)]
pub struct Rig {
    pub bones: Vec<Bone>,
    /// Per base-mesh vertex: at most [`INFLUENCES`] (bone, weight) pairs,
    /// the strongest, summing to 1.
    influences: Vec<[(u8, f32); INFLUENCES]>,
}

#[derive(Deserialize)]
struct RawEnd {
    strategy: String,
    #[serde(default)]
    cube_name: Option<String>,
    #[serde(default)]
    vertex_indices: Vec<u32>,
}

#[derive(Deserialize)]
struct RawBone {
    parent: String,
    head: RawEnd,
}

#[derive(Deserialize)]
struct RawWeights {
    weights: HashMap<String, Vec<(u32, f32)>>,
}

fn read(path: &Path) -> Result<String, BodyError> {
    std::fs::read_to_string(path).map_err(|source| BodyError::Io {
        path: path.display().to_string(),
        source,
    })
}

fn parse_error(what: &str, message: impl ToString) -> BodyError {
    BodyError::Parse {
        what: what.into(),
        line: 0,
        message: message.to_string(),
    }
}

impl Rig {
    /// The game-engine rig from `dir/rigs/standard/` for a mesh of
    /// `vertex_count` vertices.
    pub fn load(dir: &Path, vertex_count: usize) -> Result<Rig, BodyError> {
        let rig_path = dir.join("rigs/standard/rig.game_engine.json");
        let weights_path = dir.join("rigs/standard/weights.game_engine.json");
        let raw: HashMap<String, RawBone> = serde_json::from_str(&read(&rig_path)?)
            .map_err(|e| parse_error("rig.game_engine.json", e))?;
        let raw_weights: RawWeights = serde_json::from_str(&read(&weights_path)?)
            .map_err(|e| parse_error("weights.game_engine.json", e))?;
        Self::build(raw, raw_weights.weights, vertex_count)
    }

    fn build(
        raw: HashMap<String, RawBone>,
        weights: HashMap<String, Vec<(u32, f32)>>,
        vertex_count: usize,
    ) -> Result<Rig, BodyError> {
        let what = "rig.game_engine.json";
        // Parents first: order by depth, then by name (stable output).
        let depth = |name: &str| -> Result<usize, BodyError> {
            let mut d = 0;
            let mut at = name;
            while let Some(bone) = raw.get(at).filter(|b| !b.parent.is_empty()) {
                d += 1;
                at = &bone.parent;
                if d > raw.len() {
                    return Err(parse_error(what, format!("a parent cycle through {name}")));
                }
            }
            Ok(d)
        };
        let mut names: Vec<(usize, &String)> = raw
            .keys()
            .map(|n| depth(n).map(|d| (d, n)))
            .collect::<Result<_, _>>()?;
        names.sort();
        if names.len() > u8::MAX as usize {
            return Err(parse_error(
                what,
                "more bones than 8-bit joint indices hold",
            ));
        }
        let index: HashMap<&str, usize> = names
            .iter()
            .enumerate()
            .map(|(i, (_, n))| (n.as_str(), i))
            .collect();
        let mut bones = Vec::with_capacity(names.len());
        for (_, name) in &names {
            let b = &raw[*name];
            let parent = match b.parent.as_str() {
                "" => None,
                p => Some(*index.get(p).ok_or_else(|| {
                    parse_error(what, format!("{name}'s parent {p} is not a bone"))
                })?),
            };
            let head = match (b.head.strategy.as_str(), &b.head.cube_name) {
                ("CUBE", Some(group)) => Anchor::Group(group.clone()),
                ("MEAN", _) if !b.head.vertex_indices.is_empty() => {
                    if let Some(v) = b
                        .head
                        .vertex_indices
                        .iter()
                        .find(|&&v| v as usize >= vertex_count)
                    {
                        return Err(parse_error(
                            what,
                            format!("{name}: vertex {v} out of range"),
                        ));
                    }
                    Anchor::Mean(b.head.vertex_indices.clone())
                }
                (s, _) => {
                    return Err(parse_error(
                        what,
                        format!("{name}: head strategy {s} unsupported"),
                    ));
                }
            };
            bones.push(Bone {
                name: (*name).clone(),
                parent,
                head,
            });
        }
        let mut all: Vec<Vec<(u8, f32)>> = vec![Vec::new(); vertex_count];
        for (bone, list) in weights {
            let Some(&b) = index.get(bone.as_str()) else {
                return Err(parse_error(
                    "weights.game_engine.json",
                    format!("weights for {bone}, not a bone of the rig"),
                ));
            };
            for (v, w) in list {
                let slot = all.get_mut(v as usize).ok_or_else(|| {
                    parse_error(
                        "weights.game_engine.json",
                        format!("{bone}: vertex {v} out of range"),
                    )
                })?;
                if w > 0.0 && w.is_finite() {
                    slot.push((b as u8, w));
                }
            }
        }
        let influences = all
            .into_iter()
            .map(|mut list| {
                list.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                list.truncate(INFLUENCES);
                let sum: f32 = list.iter().map(|p| p.1).sum();
                let mut out = [(0u8, 0f32); INFLUENCES];
                for (slot, (b, w)) in out.iter_mut().zip(list) {
                    *slot = (b, w / sum);
                }
                out
            })
            .collect();
        Ok(Rig { bones, influences })
    }

    /// The bones placed on `positions` (a shape of `base`).
    pub fn place(&self, base: &BaseMesh, positions: &[[f32; 3]]) -> Result<Vec<Joint>, BodyError> {
        self.bones
            .iter()
            .map(|b| {
                let head = match &b.head {
                    Anchor::Group(g) => base.centre(g, positions)?,
                    Anchor::Mean(v) => {
                        let n = v.len() as f32;
                        v.iter().fold([0f32; 3], |c, &i| {
                            let p = positions[i as usize];
                            [c[0] + p[0] / n, c[1] + p[1] / n, c[2] + p[2] / n]
                        })
                    }
                };
                Ok(Joint {
                    name: b.name.clone(),
                    parent: b.parent,
                    head,
                })
            })
            .collect()
    }

    /// The bones `vertex` follows, strongest first; weights sum to 1, or all
    /// are 0 for a vertex no bone moves.
    pub fn influences(&self, vertex: u32) -> [(u8, f32); INFLUENCES] {
        self.influences[vertex as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bone(parent: &str, head: RawEnd) -> RawBone {
        RawBone {
            parent: parent.into(),
            head,
        }
    }

    fn cube(name: &str) -> RawEnd {
        RawEnd {
            strategy: "CUBE".into(),
            cube_name: Some(name.into()),
            vertex_indices: vec![],
        }
    }

    #[test]
    fn parents_first_and_the_four_strongest_weights_normalised() {
        let raw = HashMap::from([
            ("hand".to_string(), bone("arm", cube("joint-hand"))),
            (
                "root".to_string(),
                bone(
                    "",
                    RawEnd {
                        strategy: "MEAN".into(),
                        cube_name: None,
                        vertex_indices: vec![0, 1],
                    },
                ),
            ),
            ("arm".to_string(), bone("root", cube("joint-arm"))),
        ]);
        let w = HashMap::from([
            ("root".to_string(), vec![(0, 0.1), (1, 1.0)]),
            ("arm".to_string(), vec![(0, 0.3)]),
            ("hand".to_string(), vec![(0, 0.6)]),
        ]);
        let rig = Rig::build(raw, w, 3).unwrap();
        let names: Vec<_> = rig.bones.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, ["root", "arm", "hand"]);
        assert_eq!(rig.bones[2].parent, Some(1));
        let v0 = rig.influences(0);
        assert_eq!(v0[0].0, 2, "the hand pulls hardest");
        assert!((v0.iter().map(|p| p.1).sum::<f32>() - 1.0).abs() < 1e-6);
        assert_eq!(rig.influences(1)[0], (0, 1.0));
        assert_eq!(rig.influences(2), [(0, 0.0); 4], "no bone moves vertex 2");
    }

    #[test]
    fn broken_rigs_are_refused_with_the_bone_named() {
        let raw = HashMap::from([("a".to_string(), bone("ghost", cube("joint-a")))]);
        let err = Rig::build(raw, HashMap::new(), 1).unwrap_err().to_string();
        assert!(err.contains("ghost"), "{err}");
        let raw = HashMap::from([("a".to_string(), bone("", cube("joint-a")))]);
        let w = HashMap::from([("a".to_string(), vec![(5, 1.0)])]);
        let err = Rig::build(raw, w, 1).unwrap_err().to_string();
        assert!(err.contains("vertex 5"), "{err}");
    }
}
