//! Tape measurements on a shaped body: height as the vertical extent, and
//! girths as the length a tape laid horizontally around one part takes —
//! the convex hull of that part's cross-section (a tape bridges hollows).
//! The mesh's y axis points up.
use std::collections::HashMap;

/// The vertical extent of `vertices`, in mesh units.
pub fn height(positions: &[[f32; 3]], vertices: &[u32]) -> f32 {
    let (lo, hi) = vertices.iter().fold((f32::MAX, f32::MIN), |(lo, hi), &i| {
        let y = positions[i as usize][1];
        (lo.min(y), hi.max(y))
    });
    (hi - lo).max(0.0)
}

/// The horizontal cross-section of `triangles` at height `y`, split into its
/// closed loops (a torso, two arms…), each as points in (x, z).
pub fn section(positions: &[[f32; 3]], triangles: &[[u32; 3]], y: f32) -> Vec<Vec<[f32; 2]>> {
    // Each crossing lies on a mesh edge; a triangle crossing the plane joins
    // two edges. Loops are the connected edge chains.
    let mut point: HashMap<(u32, u32), [f32; 2]> = HashMap::new();
    let mut links: HashMap<(u32, u32), Vec<(u32, u32)>> = HashMap::new();
    for t in triangles {
        let mut crossed = Vec::with_capacity(2);
        for (a, b) in [(t[0], t[1]), (t[1], t[2]), (t[2], t[0])] {
            let (pa, pb) = (positions[a as usize], positions[b as usize]);
            if (pa[1] < y) != (pb[1] < y) {
                let s = (y - pa[1]) / (pb[1] - pa[1]);
                let key = (a.min(b), a.max(b));
                point.insert(
                    key,
                    [pa[0] + s * (pb[0] - pa[0]), pa[2] + s * (pb[2] - pa[2])],
                );
                crossed.push(key);
            }
        }
        if let [e, f] = crossed[..] {
            links.entry(e).or_default().push(f);
            links.entry(f).or_default().push(e);
        }
    }
    let mut seen: HashMap<(u32, u32), ()> = HashMap::new();
    let mut loops = Vec::new();
    for &start in links.keys() {
        if seen.contains_key(&start) {
            continue;
        }
        let mut stack = vec![start];
        let mut pts = Vec::new();
        seen.insert(start, ());
        while let Some(e) = stack.pop() {
            pts.push(point[&e]);
            for &n in &links[&e] {
                if seen.insert(n, ()).is_none() {
                    stack.push(n);
                }
            }
        }
        loops.push(pts);
    }
    loops
}

/// The perimeter of the convex hull of `points` (Andrew's monotone chain).
pub fn hull_perimeter(points: &[[f32; 2]]) -> f32 {
    let mut p: Vec<[f32; 2]> = points.to_vec();
    p.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    p.dedup();
    if p.len() < 2 {
        return 0.0;
    }
    let cross = |o: [f32; 2], a: [f32; 2], b: [f32; 2]| {
        (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
    };
    let mut hull: Vec<[f32; 2]> = Vec::with_capacity(2 * p.len());
    for pass in 0..2 {
        let start = hull.len();
        let iter: Box<dyn Iterator<Item = &[f32; 2]>> = if pass == 0 {
            Box::new(p.iter())
        } else {
            Box::new(p.iter().rev())
        };
        for &q in iter {
            while hull.len() >= start + 2
                && cross(hull[hull.len() - 2], hull[hull.len() - 1], q) <= 0.0
            {
                hull.pop();
            }
            hull.push(q);
        }
        hull.pop();
    }
    let n = hull.len();
    (0..n)
        .map(|i| {
            let (a, b) = (hull[i], hull[(i + 1) % n]);
            ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
        })
        .sum()
}

/// One horizontal cross-section of a body part, in mesh units: how wide
/// (x) and deep (z) it is and its girth — what a front photo, a side photo
/// and a tape would each see.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Section {
    pub y: f32,
    pub width: f32,
    pub depth: f32,
    pub girth: f32,
}

/// The section at height `y` of the loop that encloses (or comes nearest
/// to) the point (`x`, `z`): the torso's loop when (`x`, `z`) is on the
/// body's axis, not an arm's.
pub fn section_at(
    positions: &[[f32; 3]],
    triangles: &[[u32; 3]],
    y: f32,
    x: f32,
    z: f32,
) -> Section {
    let loops = section(positions, triangles, y);
    let distance = |l: &Vec<[f32; 2]>| {
        let n = l.len().max(1) as f32;
        let c = l
            .iter()
            .fold([0f32; 2], |c, p| [c[0] + p[0] / n, c[1] + p[1] / n]);
        (c[0] - x).powi(2) + (c[1] - z).powi(2)
    };
    let Some(l) = loops
        .iter()
        .min_by(|a, b| distance(a).total_cmp(&distance(b)))
    else {
        return Section {
            y,
            ..Section::default()
        };
    };
    let extent = |k: usize| {
        let (lo, hi) = l.iter().fold((f32::MAX, f32::MIN), |(lo, hi), p| {
            (lo.min(p[k]), hi.max(p[k]))
        });
        hi - lo
    };
    Section {
        y,
        width: extent(0),
        depth: extent(1),
        girth: hull_perimeter(l),
    }
}

/// The girth of [`section_at`]'s loop.
pub fn girth(positions: &[[f32; 3]], triangles: &[[u32; 3]], y: f32, x: f32, z: f32) -> f32 {
    section_at(positions, triangles, y, x, z).girth
}

/// A body's measurements in metres, taken the way they will be taken from
/// photos (joint centres for lengths, horizontal tape girths).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measurements {
    pub height: f32,
    /// At its narrowest above the neck joint (where a tape goes round it).
    pub neck: f32,
    /// The largest torso girth between the mid-back joint and where the arms
    /// join the torso's section (bust for women, chest for men).
    pub chest: f32,
    /// The smallest torso girth between the hips and the chest.
    pub waist: f32,
    /// The largest girth between the crotch and the pelvis joint.
    pub hips: f32,
    /// Between the two shoulder joints.
    pub shoulder_width: f32,
    /// Shoulder joint → elbow joint → wrist (the hand joint), left side.
    pub arm_length: f32,
    /// Crotch to floor.
    pub inseam: f32,
    /// The sections the girths were taken at, in metres: what a front
    /// photo (width) and a side photo (depth) see of them.
    pub sections: Sections,
}

/// The measurements' names in the API, in the order `named` gives them.
pub const NAMES: [&str; 8] = [
    "height",
    "neck",
    "chest",
    "waist",
    "hips",
    "shoulder_width",
    "arm_length",
    "inseam",
];

/// `values` (in [`NAMES`]' order) beside their names.
pub(crate) fn with_names<T: Copy>(values: [T; 8]) -> [(&'static str, T); 8] {
    std::array::from_fn(|i| (NAMES[i], values[i]))
}

impl Measurements {
    /// Each measurement by its name in the API ([`NAMES`]), metres.
    pub fn named(&self) -> [(&'static str, f32); 8] {
        with_names([
            self.height,
            self.neck,
            self.chest,
            self.waist,
            self.hips,
            self.shoulder_width,
            self.arm_length,
            self.inseam,
        ])
    }
}

/// The neck, chest, waist and hip sections of a body, metres.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sections {
    pub neck: Section,
    pub chest: Section,
    pub waist: Section,
    pub hips: Section,
}

/// The scan step for girth bands: 5 mm.
const STEP: f32 = 0.05;

/// Measure a shaped body (`positions` of `base`'s vertices).
pub fn measure_body(
    base: &crate::BaseMesh,
    positions: &[[f32; 3]],
) -> Result<Measurements, crate::BodyError> {
    let body = base.group_vertices("body")?;
    let tris = base.triangles("body")?;
    let joint = |name: &str| base.centre(name, positions);
    let (pelvis, spine2, neck) = (
        joint("joint-pelvis")?,
        joint("joint-spine-2")?,
        joint("joint-neck")?,
    );
    let (l_shoulder, r_shoulder) = (joint("joint-l-shoulder")?, joint("joint-r-shoulder")?);
    let (elbow, wrist) = (joint("joint-l-elbow")?, joint("joint-l-hand")?);
    let floor = body
        .iter()
        .map(|&i| positions[i as usize][1])
        .fold(f32::MAX, f32::min);
    // The crotch: the lowest skin on the body's mid-plane below the pelvis.
    let crotch = body
        .iter()
        .map(|&i| positions[i as usize])
        .filter(|v| (v[0] - pelvis[0]).abs() < 0.05 && v[1] < pelvis[1])
        .map(|v| v[1])
        .fold(pelvis[1], f32::min);
    let torso = |y: f32| section_at(positions, &tris, y, pelvis[0], pelvis[2]);
    let band = |from: f32, to: f32| {
        let n = ((to - from) / STEP).ceil().max(1.0) as usize;
        (0..=n).map(move |k| from + (to - from) * k as f32 / n as f32)
    };
    let widest = |a: Section, b: Section| if b.girth > a.girth { b } else { a };
    let hips = band(crotch + STEP, pelvis[1])
        .map(torso)
        .fold(Section::default(), widest);
    // Up from the mid-back until the arms join the section: a jump of more
    // than 10 % from one step to the next.
    let mut chest = Section::default();
    let mut last: Option<f32> = None;
    for y in band(spine2[1], l_shoulder[1]) {
        let s = torso(y);
        if last.is_some_and(|l| s.girth > l * 1.1) {
            break;
        }
        chest = widest(chest, s);
        last = Some(s.girth);
    }
    let waist = band(pelvis[1], spine2[1].max(pelvis[1]))
        .chain(std::iter::once(spine2[1]))
        .map(torso)
        .filter(|s| s.girth > 0.0)
        .fold(chest, |a, b| if b.girth < a.girth { b } else { a });
    // The neck where a tape goes round it (below the Adam's apple): its
    // narrowest between the neck joint and halfway to the head joint
    // (above, the section runs into the jaw and splits at the lips and
    // ears). At the joint itself it flares into the shoulders.
    let head = joint("joint-head")?;
    let base = section_at(positions, &tris, neck[1], neck[0], neck[2]);
    let neck = band(neck[1], (neck[1] + head[1]) / 2.0)
        .map(|y| section_at(positions, &tris, y, neck[0], neck[2]))
        .filter(|s| s.girth > 0.6 * base.girth)
        .fold(base, |a, b| if b.girth < a.girth { b } else { a });
    let dist = |a: [f32; 3], b: [f32; 3]| {
        ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
    };
    let m = crate::UNITS_PER_METRE;
    let metres = |s: Section| Section {
        y: (s.y - floor) / m,
        width: s.width / m,
        depth: s.depth / m,
        girth: s.girth / m,
    };
    Ok(Measurements {
        height: height(positions, &body) / m,
        neck: neck.girth / m,
        chest: chest.girth / m,
        waist: waist.girth / m,
        hips: hips.girth / m,
        shoulder_width: dist(l_shoulder, r_shoulder) / m,
        arm_length: (dist(l_shoulder, elbow) + dist(elbow, wrist)) / m,
        inseam: (crotch - floor) / m,
        sections: Sections {
            neck: metres(neck),
            chest: metres(chest),
            waist: metres(waist),
            hips: metres(hips),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A unit cube's side faces (two triangles each), y from 0 to 1.
    fn cube() -> (Vec<[f32; 3]>, Vec<[u32; 3]>) {
        let p = vec![
            [0.0, 0.0, 0.0],
            [1.0, 0.0, 0.0],
            [1.0, 0.0, 1.0],
            [0.0, 0.0, 1.0],
            [0.0, 1.0, 0.0],
            [1.0, 1.0, 0.0],
            [1.0, 1.0, 1.0],
            [0.0, 1.0, 1.0],
        ];
        let mut t = Vec::new();
        for i in 0..4u32 {
            let j = (i + 1) % 4;
            t.push([i, j, j + 4]);
            t.push([i, j + 4, i + 4]);
        }
        (p, t)
    }

    #[test]
    fn a_box_measures_its_perimeter_and_height() {
        let (p, t) = cube();
        assert_eq!(height(&p, &[0, 6]), 1.0);
        let loops = section(&p, &t, 0.5);
        assert_eq!(loops.len(), 1);
        assert!((girth(&p, &t, 0.5, 0.5, 0.5) - 4.0).abs() < 1e-5);
        // Two boxes side by side: the girth is the nearer one's.
        let mut p2 = p.clone();
        p2.extend(p.iter().map(|v| [v[0] + 5.0, v[1], v[2] * 2.0]));
        let mut t2 = t.clone();
        t2.extend(t.iter().map(|f| f.map(|i| i + 8)));
        assert_eq!(section(&p2, &t2, 0.5).len(), 2);
        assert!((girth(&p2, &t2, 0.5, 5.5, 1.0) - 6.0).abs() < 1e-5);
        assert!((girth(&p2, &t2, 0.5, 0.0, 0.0) - 4.0).abs() < 1e-5);
    }

    #[test]
    fn a_tape_bridges_hollows() {
        // An L shape's hull: the square it spans minus nothing a tape sees.
        let l = [
            [0.0, 0.0],
            [2.0, 0.0],
            [2.0, 1.0],
            [1.0, 1.0],
            [1.0, 2.0],
            [0.0, 2.0],
        ];
        let expected = 2.0 + 1.0 + 2f32.sqrt() + 1.0 + 2.0;
        assert!((hull_perimeter(&l) - expected).abs() < 1e-5);
    }
}
