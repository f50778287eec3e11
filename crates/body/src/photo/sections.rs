//! The girths: sections through the silhouettes at heights found as on the
//! mesh ([`crate::measure`]), each a calibrated model of the front width
//! and the side depth ([`crate::calibrate`]) with its 1-σ uncertainty.
use std::f32::consts::SQRT_2;

use super::corrections::{
    ARMS_JOIN, BAND_STEP, CHEST_BAND, CHEST_PAST_SHOULDERS, CLAMPED_SD, EDGE_PX, END_PX,
    FOLDED_CHEST_AT, FOLDED_SD, HIPS_FROM_CROTCH, HIPS_TO, NECK_UP_TO_NOSE, NOSE_HEIGHT,
    PERSPECTIVE, RATIO_SLACK, WAIST_BAND,
};
use super::silhouette::Silhouette;
use super::{PhotoError, dist};
use crate::calibrate::{Calibration, SectionModel};

/// The torso's span: the hip and shoulder keypoints' heights, metres.
pub(super) struct Torso {
    pub(super) hips: f32,
    pub(super) shoulders: f32,
}

impl Torso {
    /// The height `t` of the way up (0 the hips, 1 the shoulders).
    pub(super) fn at(&self, t: f32) -> f32 {
        self.hips + t * (self.shoulders - self.hips)
    }
}

/// A girth read at one height: its value and 1-σ uncertainty, and the
/// front width it was read from (metres).
#[derive(Debug, Clone, Copy)]
pub(super) struct Section {
    pub(super) girth: f32,
    pub(super) sd: f32,
    width: f32,
}

/// The wider of two sections, where there are any.
fn widest(a: Option<Section>, b: Option<Section>) -> Option<Section> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if b.girth > a.girth { b } else { a }),
        (a, b) => a.or(b),
    }
}

fn unreadable(what: &str) -> PhotoError {
    PhotoError::Unreadable(format!("no {what} section in the photos"))
}

/// Reads sections through a front (and side) silhouette with the
/// calibration, carrying the uncertainties the photos give.
pub(super) struct Sections<'s, 'a> {
    f: &'s Silhouette<'a>,
    s: Option<&'s Silhouette<'a>>,
    cal: &'s Calibration,
    torso: &'s Torso,
    /// 0–1: how soft the masks' edges are (the softer of the two).
    pub(super) softness: f32,
    /// A width's (or depth's) 1 σ, metres: two edges, each placed within
    /// [`EDGE_PX`].
    sigma_w: f32,
    /// The scale's relative 1 σ: head top and soles within [`END_PX`] each,
    /// and [`PERSPECTIVE`].
    pub(super) sigma_scale: f32,
}

impl<'s, 'a> Sections<'s, 'a> {
    pub(super) fn new(
        f: &'s Silhouette<'a>,
        s: Option<&'s Silhouette<'a>>,
        cal: &'s Calibration,
        torso: &'s Torso,
    ) -> Self {
        let softness = f.softness().max(s.map_or(0.0, |s| s.softness()));
        let edge_px = EDGE_PX.0 + EDGE_PX.1 * softness;
        let sigma_width = SQRT_2 * edge_px * f.scale;
        let sigma_depth = s.map(|s| SQRT_2 * edge_px * s.scale);
        let sigma_scale = ((END_PX * SQRT_2 / f.pixels()).powi(2) + PERSPECTIVE.powi(2)).sqrt();
        Sections {
            f,
            s,
            cal,
            torso,
            softness,
            sigma_w: sigma_depth.map_or(sigma_width, |d| sigma_width.max(d)),
            sigma_scale,
        }
    }

    /// The girth at `h` metres up, its front width no wider than `cap`;
    /// `None` where the silhouettes have no run. A depth ÷ width outside
    /// what the calibration bodies span ([`RATIO_SLACK`]) is cut back to it
    /// and the girth is less certain for it ([`CLAMPED_SD`]).
    fn section_capped(&self, model: &SectionModel, h: f32, cap: f32) -> Option<Section> {
        let w = self.f.width_at(h)?.min(cap);
        let d = match self.s {
            Some(s) => Some(s.width_at(h)?),
            None => None,
        };
        let (lo, hi) = (RATIO_SLACK.0 * model.ratio.0, RATIO_SLACK.1 * model.ratio.1);
        let (w, d, clamped) = match d {
            Some(d) if lo > 0.0 && d > hi * w => (w, Some(hi * w), true),
            Some(d) if lo > 0.0 && d < lo * w => (d / lo, Some(d), true),
            other => (w, other, false),
        };
        let (g, sd) = girth(model, w, d, self.sigma_w, self.sigma_scale);
        let sd = if clamped {
            (sd.powi(2) + (CLAMPED_SD * g).powi(2)).sqrt()
        } else {
            sd
        };
        Some(Section {
            girth: g,
            sd,
            width: w,
        })
    }

    fn section(&self, model: &SectionModel, h: f32) -> Option<Section> {
        self.section_capped(model, h, f32::MAX)
    }

    /// Heights from `from` to `to` metres, at most [`BAND_STEP`] (or a
    /// pixel) apart.
    fn band(&self, from: f32, to: f32) -> impl Iterator<Item = f32> {
        let step = self.f.scale.max(BAND_STEP);
        let n = ((to - from) / step).ceil().max(1.0) as usize;
        (0..=n).map(move |k| from + (to - from) * k as f32 / n as f32)
    }

    /// The hips: the widest section from just above the crotch (`crotch`
    /// metres up) to [`HIPS_TO`].
    pub(super) fn hips(&self, crotch: f32) -> Result<Section, PhotoError> {
        self.band(crotch + HIPS_FROM_CROTCH, self.torso.at(HIPS_TO))
            .map(|h| self.section(&self.cal.hips, h))
            .fold(None, widest)
            .ok_or_else(|| unreadable("hip"))
    }

    /// The waist: the narrowest section in [`WAIST_BAND`].
    pub(super) fn waist(&self) -> Result<Section, PhotoError> {
        let (from, to) = (self.torso.at(WAIST_BAND.0), self.torso.at(WAIST_BAND.1));
        self.band(from, to)
            .filter_map(|h| self.section(&self.cal.waist, h))
            .min_by(|a, b| a.girth.total_cmp(&b.girth))
            .ok_or_else(|| unreadable("waist"))
    }

    /// The chest: the widest section up [`CHEST_BAND`] until the arms join
    /// the front silhouette; with the arms folded across it from its first
    /// section, the section at [`FOLDED_CHEST_AT`] no wider than the
    /// shoulder keypoints, less certain.
    pub(super) fn chest(&self) -> Result<Section, PhotoError> {
        let shoulders = self.f.view.landmarks.shoulders;
        let shoulders_apart = match (shoulders[0], shoulders[1]) {
            (Some(a), Some(b)) => dist(a, b) * self.f.scale,
            _ => f32::MAX,
        };
        let mut chest: Option<Section> = None;
        let mut last: Option<f32> = None;
        let (from, to) = (self.torso.at(CHEST_BAND.0), self.torso.at(CHEST_BAND.1));
        for h in self.band(from, to) {
            let Some(sec) = self.section(&self.cal.chest, h) else {
                continue;
            };
            if last.is_some_and(|l| sec.width > ARMS_JOIN * l)
                || sec.width > CHEST_PAST_SHOULDERS * shoulders_apart
            {
                break;
            }
            last = Some(sec.width);
            chest = widest(chest, Some(sec));
        }
        match chest {
            Some(c) => Ok(c),
            None => self
                .section_capped(
                    &self.cal.chest,
                    self.torso.at(FOLDED_CHEST_AT),
                    shoulders_apart,
                )
                .map(|c| Section {
                    sd: (c.sd.powi(2) + (FOLDED_SD * c.girth).powi(2)).sqrt(),
                    ..c
                })
                .ok_or_else(|| unreadable("chest")),
        }
    }

    /// The neck at its narrowest between the shoulders and halfway to the
    /// nose, as on the mesh. The height comes from the front silhouette
    /// alone: from the side, the chin reaches over the upper neck.
    pub(super) fn neck(&self, stated: f32) -> Result<Section, PhotoError> {
        let f = self.f;
        let head = f.view.landmarks.nose.map_or(stated * NOSE_HEIGHT, |n| {
            f.height_of(n[1].round().max(0.0) as usize)
        });
        let shoulders = self.torso.shoulders;
        self.band(
            shoulders,
            shoulders + NECK_UP_TO_NOSE * (head - shoulders).max(0.0),
        )
        .filter_map(|h| f.width_at(h).map(|w| (h, w)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .and_then(|(h, _)| self.section(&self.cal.neck, h))
        .ok_or_else(|| unreadable("neck"))
    }
}

/// A girth at one height and its 1-σ uncertainty.
fn girth(
    model: &SectionModel,
    width: f32,
    depth: Option<f32>,
    sigma_width: f32,
    sigma_scale: f32,
) -> (f32, f32) {
    match depth {
        Some(d) => {
            let g = model.girth(width, d);
            let var = model.residual_sd.powi(2)
                + (model.a * sigma_width).powi(2)
                + (model.b * sigma_width).powi(2)
                + (g * sigma_scale).powi(2);
            (g, var.sqrt())
        }
        None => {
            let g = model.girth_from_width(width);
            let var = model.front.2.powi(2)
                + (model.front.0 * sigma_width).powi(2)
                + (g * sigma_scale).powi(2);
            (g, var.sqrt())
        }
    }
}
