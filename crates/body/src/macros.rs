//! MakeHuman's macro variables (each 0..1) and the macro targets they blend:
//! every combination of gender × age × muscle × weight has its own target,
//! weighted by the product of how much of each level the variables hold
//! (`targets/macrodetails/macro.json` gives the levels); height and
//! proportions add targets per combination; race blends per gender × age.
/// The macro variables; 0.5 is MakeHuman's average for each.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Macros {
    /// 0 female … 1 male.
    pub gender: f32,
    /// 0 baby, 0.1875 child, 0.5 young adult (25), 1 old (90).
    pub age: f32,
    pub muscle: f32,
    pub weight: f32,
    pub height: f32,
    /// 0 uncommon … 1 ideal.
    pub proportions: f32,
    /// African, Asian, Caucasian shares (normalised to sum 1).
    pub race: [f32; 3],
}

impl Default for Macros {
    fn default() -> Self {
        Macros {
            gender: 0.5,
            age: 0.5,
            muscle: 0.5,
            weight: 0.5,
            height: 0.5,
            proportions: 0.5,
            race: [1.0 / 3.0; 3],
        }
    }
}

/// Two neighbouring levels and how much of each a value in 0..1 holds,
/// given the level boundaries (`levels[i]` sits at `at[i]`).
fn levels<'a>(value: f32, names: &[&'a str], at: &[f32]) -> Vec<(&'a str, f32)> {
    let v = value.clamp(0.0, 1.0);
    for i in 0..at.len() - 1 {
        if v <= at[i + 1] {
            let t = (v - at[i]) / (at[i + 1] - at[i]);
            return [(names[i], 1.0 - t), (names[i + 1], t)]
                .into_iter()
                .filter(|(_, w)| *w > 0.0)
                .collect();
        }
    }
    vec![(names[names.len() - 1], 1.0)]
}

impl Macros {
    fn genders(&self) -> Vec<(&'static str, f32)> {
        levels(self.gender, &["female", "male"], &[0.0, 1.0])
    }

    fn ages(&self) -> Vec<(&'static str, f32)> {
        levels(
            self.age,
            &["baby", "child", "young", "old"],
            &[0.0, 0.1875, 0.5, 1.0],
        )
    }

    fn muscles(&self) -> Vec<(&'static str, f32)> {
        levels(
            self.muscle,
            &["minmuscle", "averagemuscle", "maxmuscle"],
            &[0.0, 0.5, 1.0],
        )
    }

    fn weights(&self) -> Vec<(&'static str, f32)> {
        levels(
            self.weight,
            &["minweight", "averageweight", "maxweight"],
            &[0.0, 0.5, 1.0],
        )
    }

    /// Every macro target with a non-zero weight, as a path under
    /// `targets/`, with its weight.
    pub fn targets(&self) -> Vec<(String, f32)> {
        let mut out = Vec::new();
        let height = if self.height < 0.5 {
            Some(("minheight", (0.5 - self.height) * 2.0))
        } else if self.height > 0.5 {
            Some(("maxheight", (self.height - 0.5) * 2.0))
        } else {
            None
        };
        let proportions = if self.proportions < 0.5 {
            Some(("uncommonproportions", (0.5 - self.proportions) * 2.0))
        } else if self.proportions > 0.5 {
            Some(("idealproportions", (self.proportions - 0.5) * 2.0))
        } else {
            None
        };
        let race_total: f32 = self.race.iter().map(|r| r.max(0.0)).sum();
        for (g, gw) in self.genders() {
            for (a, aw) in self.ages() {
                for (r, share) in ["african", "asian", "caucasian"].iter().zip(self.race) {
                    let w = gw * aw * share.max(0.0) / race_total.max(f32::EPSILON);
                    if w > 0.0 {
                        out.push((format!("macrodetails/{r}-{g}-{a}.target.gz"), w));
                    }
                }
                for (m, mw) in self.muscles() {
                    for (wt, ww) in self.weights() {
                        let w = gw * aw * mw * ww;
                        out.push((
                            format!("macrodetails/universal-{g}-{a}-{m}-{wt}.target.gz"),
                            w,
                        ));
                        if let Some((h, hw)) = height {
                            out.push((
                                format!("macrodetails/height/{g}-{a}-{m}-{wt}-{h}.target.gz"),
                                w * hw,
                            ));
                        }
                        // No baby has proportions targets.
                        if let Some((p, pw)) = proportions.filter(|_| a != "baby") {
                            out.push((
                                format!("macrodetails/proportions/{g}-{a}-{m}-{wt}-{p}.target.gz"),
                                w * pw,
                            ));
                        }
                    }
                }
            }
        }
        out.retain(|(_, w)| *w > 1e-6);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_average_body_is_one_universal_target_and_the_races() {
        let t = Macros {
            gender: 1.0,
            ..Macros::default()
        }
        .targets();
        let universal: Vec<_> = t.iter().filter(|(n, _)| n.contains("universal")).collect();
        assert_eq!(universal.len(), 1);
        assert_eq!(
            universal[0].0,
            "macrodetails/universal-male-young-averagemuscle-averageweight.target.gz"
        );
        assert!((universal[0].1 - 1.0).abs() < 1e-6);
        let races: f32 = t
            .iter()
            .filter(|(n, _)| !n.contains("universal"))
            .map(|(_, w)| w)
            .sum();
        assert!((races - 1.0).abs() < 1e-5, "{t:?}");
    }

    #[test]
    fn in_between_values_blend_neighbouring_levels() {
        let m = Macros {
            gender: 0.25,
            age: 0.75,
            weight: 0.75,
            height: 1.0,
            proportions: 0.0,
            ..Macros::default()
        };
        let t = m.targets();
        let w = |name: &str| {
            t.iter()
                .find(|(n, _)| n == name)
                .map(|(_, w)| *w)
                .unwrap_or(0.0)
        };
        // female 0.75 × old 0.5 × average muscle 1 × max weight 0.5
        let u = "macrodetails/universal-female-old-averagemuscle-maxweight.target.gz";
        assert!((w(u) - 0.1875).abs() < 1e-6, "{t:?}");
        let h = "macrodetails/height/female-old-averagemuscle-maxweight-maxheight.target.gz";
        assert!((w(h) - 0.1875).abs() < 1e-6);
        let p = "macrodetails/proportions/female-old-averagemuscle-maxweight-uncommonproportions.target.gz";
        assert!((w(p) - 0.1875).abs() < 1e-6);
        // The universal weights always sum to 1.
        let sum: f32 = t
            .iter()
            .filter(|(n, _)| n.contains("universal"))
            .map(|(_, w)| w)
            .sum();
        assert!((sum - 1.0).abs() < 1e-5);
    }
}
