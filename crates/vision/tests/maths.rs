//! The vision maths through the crate's public interface (tests here link
//! the optimised library instead of building it a second time for unit
//! tests: a minute of every fresh build).

mod colour {
    use atelier_vision::colour::*;
    #[allow(unused_imports)]
    use atelier_vision::*;

    #[test]
    fn lab_matches_reference_values_and_round_trips() {
        let white = Lab::from_rgb([255, 255, 255]);
        assert!((white.l - 100.0).abs() < 0.01 && white.a.abs() < 0.01 && white.b.abs() < 0.01);
        // sRGB red is L 53.24, a 80.09, b 67.20.
        let red = Lab::from_rgb([255, 0, 0]);
        assert!((red.l - 53.24).abs() < 0.05, "{red:?}");
        assert!((red.a - 80.09).abs() < 0.1, "{red:?}");
        assert!((red.b - 67.20).abs() < 0.1, "{red:?}");
        for rgb in [[12u8, 200, 99], [250, 240, 230], [3, 3, 3]] {
            assert_eq!(Lab::from_rgb(rgb).to_rgb(), rgb);
        }
        assert_eq!(Lab::from_hex("#a07e56").unwrap().hex(), "#a07e56");
    }

    #[test]
    fn ciede2000_matches_the_published_test_pairs() {
        // Sharma, Wu & Dalal (2005), pairs 1, 7 and 17.
        let pairs = [
            ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
            ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
            ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
        ];
        for ((l1, a1, b1), (l2, a2, b2), expected) in pairs {
            let d = delta_e2000(
                Lab {
                    l: l1,
                    a: a1,
                    b: b1,
                },
                Lab {
                    l: l2,
                    a: a2,
                    b: b2,
                },
            );
            assert!((d - expected).abs() < 1e-3, "{d} vs {expected}");
        }
    }

    #[test]
    fn names_and_dominant_colours_follow_the_pixels() {
        assert_eq!(colour_name(Lab::from_rgb([200, 30, 40])), "red");
        assert_eq!(colour_name(Lab::from_rgb([20, 30, 70])), "navy");
        // Three quarters navy, one quarter white.
        let mut pixels = vec![[27u8, 42, 74]; 300];
        pixels.extend(vec![[248u8, 248, 248]; 100]);
        let colours = dominant_colours(&pixels, 5);
        assert_eq!(colours.len(), 2, "{colours:?}");
        assert_eq!(colours[0].name, "navy");
        assert!((colours[0].share - 0.75).abs() < 0.01);
        assert_eq!(colours[1].name, "white");
        assert_eq!(colours[0].hex, "#1b2a4a");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn srgb_through_lab_and_back_is_the_same_colour(r: u8, g: u8, b: u8) {
                let back = Lab::from_rgb([r, g, b]).to_rgb();
                for (x, y) in [r, g, b].into_iter().zip(back) {
                    prop_assert!((i16::from(x) - i16::from(y)).abs() <= 1, "{:?} -> {:?}", [r, g, b], back);
                }
            }

            #[test]
            fn ciede2000_is_zero_on_itself_symmetric_and_non_negative(
                a in any::<[u8; 3]>(), b in any::<[u8; 3]>()
            ) {
                let (x, y) = (Lab::from_rgb(a), Lab::from_rgb(b));
                prop_assert!(delta_e2000(x, x).abs() < 1e-3);
                let (d1, d2) = (delta_e2000(x, y), delta_e2000(y, x));
                prop_assert!(d1 >= 0.0 && (d1 - d2).abs() < 1e-3, "{d1} {d2}");
            }

            #[test]
            fn lightness_stays_in_range_and_grey_has_no_chroma(v: u8) {
                let grey = Lab::from_rgb([v, v, v]);
                prop_assert!((0.0..=100.01).contains(&grey.l));
                prop_assert!(grey.chroma() < 0.05, "{grey:?}");
            }
        }
    }
}

mod face {
    use atelier_vision::face::*;
    use atelier_vision::letterbox_tensor;
    #[allow(unused_imports)]
    use atelier_vision::*;

    #[test]
    fn anchors_cover_the_two_grids() {
        let a = short_range_anchors();
        assert_eq!(a.len(), 896);
        assert_eq!(a[0], (1.0 / 32.0, 1.0 / 32.0));
        assert_eq!(a[1], a[0]);
        assert_eq!(a[2], (3.0 / 32.0, 1.0 / 32.0));
        assert_eq!(a[512], (1.0 / 16.0, 1.0 / 16.0));
        assert_eq!(a[895], (15.0 / 16.0, 15.0 / 16.0));
    }

    #[test]
    fn the_best_anchor_decodes_into_photo_pixels() {
        // A 256×256 photo: letterbox scale 0.5, no padding.
        let (_, lb) = letterbox_tensor(&vec![0u8; 256 * 256 * 3], 256, 256, None, 128, (2.0, -1.0));
        let mut regressors = vec![0f32; 896 * 16];
        let mut logits = vec![-10f32; 896];
        // Anchor 512 sits at (8, 8) model pixels; shift the box by (+4, +2)
        // and make it 20×30.
        logits[512] = 3.0;
        regressors[512 * 16..512 * 16 + 4].copy_from_slice(&[4.0, 2.0, 20.0, 30.0]);
        let face = best_face(&regressors, &logits, &lb).unwrap();
        assert!((face.score - 0.9526).abs() < 1e-3);
        assert!((face.x - (24.0 - 20.0)).abs() < 1e-3, "{face:?}");
        assert!((face.y - (20.0 - 30.0)).abs() < 1e-3, "{face:?}");
        assert!((face.width - 40.0).abs() < 1e-3 && (face.height - 60.0).abs() < 1e-3);
        assert_eq!(face.keypoints[0], (16.0, 16.0));
        let region = face.mesh_region();
        assert!((region.w - 90.0).abs() < 1e-3 && (region.x - (24.0 - 45.0)).abs() < 1e-3);
        // The full-range grid: anchor (row 10, col 20) of 48.
        let full = full_range_anchors();
        assert_eq!(full.len(), 2304);
        assert_eq!(full[10 * 48 + 20], (20.5 / 48.0, 10.5 / 48.0));
        // Nothing above the threshold: no face.
        logits[512] = -1.0;
        assert_eq!(best_face(&regressors, &logits, &lb), None);
    }

    #[test]
    fn overlapping_detections_are_one_face_and_distinct_ones_stay() {
        let (_, lb) = letterbox_tensor(&vec![0u8; 128 * 128 * 3], 128, 128, None, 128, (2.0, -1.0));
        let mut regressors = vec![0f32; 896 * 16];
        let mut logits = vec![-10f32; 896];
        for (anchor, logit) in [(512usize, 3.0f32), (513, 2.0), (30, 1.0)] {
            logits[anchor] = logit;
            regressors[anchor * 16 + 2] = 20.0;
            regressors[anchor * 16 + 3] = 20.0;
        }
        let found = faces(FaceModel::ShortRange, &regressors, &logits, &lb);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].score > found[1].score);
        assert_eq!(found[1].centre(), (124.0, 4.0));
    }

    #[test]
    fn a_tilted_face_is_levelled_and_maps_back() {
        // Eyes 40 px apart on a 30° line.
        let a = 30f32.to_radians();
        let right = (100.0, 100.0);
        let left = (100.0 + 40.0 * a.cos(), 100.0 + 40.0 * a.sin());
        let face = Face {
            score: 0.9,
            x: 80.0,
            y: 80.0,
            width: 80.0,
            height: 80.0,
            keypoints: [right, left, (120.0, 130.0), (120.0, 150.0), right, left],
        };
        let crop = face.mesh_crop();
        assert!((crop.angle - a).abs() < 1e-5);
        assert_eq!((crop.cx, crop.cy, crop.side), (120.0, 120.0, 120.0));
        // The input's centre is the face's centre; its x axis runs along
        // the eyes.
        let (cx, cy) = crop.to_photo(96.0, 96.0);
        assert!((cx - 120.0).abs() < 1e-4 && (cy - 120.0).abs() < 1e-4);
        let (x, y) = crop.to_photo(96.0 + 64.0, 96.0);
        let step = 64.0 * 120.0 / 192.0;
        assert!((x - (120.0 + step * a.cos())).abs() < 1e-3, "{x}");
        assert!((y - (120.0 + step * a.sin())).abs() < 1e-3, "{y}");

        // Sampling: a photo white right of x = 120 and black left of it,
        // seen unturned, is white on the input's right half.
        let (w, h) = (240u32, 240u32);
        let rgb: Vec<u8> = (0..w * h)
            .flat_map(|i| if i % w >= 120 { [255u8; 3] } else { [0u8; 3] })
            .collect();
        let level = RotatedCrop { angle: 0.0, ..crop };
        let t = level.tensor(&rgb, w, h, (1.0, 0.0));
        assert!(t[96 * 192 + 150] > 0.99 && t[96 * 192 + 40] < 0.01);
        // Outside the photo is black.
        let far = RotatedCrop {
            cx: -500.0,
            ..level
        };
        assert!(far.tensor(&rgb, w, h, (1.0, 0.0)).iter().all(|&v| v == 0.0));
    }

    #[test]
    fn a_face_is_placed_from_the_pose_when_eyes_and_nose_are_seen() {
        let kp = |name: &str, x: f32, y: f32, visibility: f32| Keypoint {
            name: name.into(),
            x,
            y,
            z: 0.0,
            visibility,
        };
        let mut points = vec![
            kp("nose", 100.0, 110.0, 0.9),
            kp("left_eye", 110.0, 100.0, 0.9),
            kp("right_eye", 90.0, 100.0, 0.9),
            kp("left_ear", 120.0, 102.0, 0.8),
            kp("right_ear", 80.0, 102.0, 0.8),
        ];
        let face = face_from_pose(&points).unwrap();
        assert_eq!(face.centre(), (100.0, 105.0));
        assert_eq!(face.width, 50.0, "2.5 × the eyes' 20 px beat the ears' 40");
        assert_eq!(
            face.keypoints[0],
            (90.0, 100.0),
            "the subject's right eye first"
        );
        points[0].visibility = 0.1;
        assert_eq!(face_from_pose(&points), None);
    }
}

mod garments {
    use atelier_vision::garments::*;
    #[allow(unused_imports)]
    use atelier_vision::*;

    fn one_hot(class: usize, p: f32) -> Vec<f32> {
        let mut probs = vec![(1.0 - p) / 999.0; 1000];
        probs[class] = p;
        probs
    }

    #[test]
    fn the_class_list_is_imagenet_order() {
        assert_eq!(imagenet_name(0), "tench");
        assert_eq!(imagenet_name(834), "suit");
        assert_eq!(imagenet_name(967), "espresso");
        assert_eq!(imagenet_name(5000), "unknown");
        for &(class, _, _) in GARMENTS {
            assert_ne!(imagenet_name(class), "unknown");
        }
    }

    #[test]
    fn a_suit_tags_as_a_top_and_an_espresso_as_nothing() {
        let tags = tag_garments(&one_hot(834, 0.7));
        assert_eq!(tags.categories[0].category, Category::Tops);
        assert_eq!(tags.garments[0].label, "suit");
        assert_eq!(tags.imagenet_top5[0].imagenet_class, 834);
        let tags = tag_garments(&one_hot(967, 0.9));
        assert!(tags.categories.is_empty(), "{tags:?}");
        assert_eq!(tags.imagenet_top5[0].label, "espresso");
    }

    #[test]
    fn seasons_follow_garments_then_colours() {
        let s = suggest_season(&one_hot(774, 0.6), &[]);
        assert_eq!(s.season, "spring_summer");
        assert!(s.reason.contains("sandal"), "{}", s.reason);
        assert_eq!(
            suggest_season(&one_hot(568, 0.6), &[]).season,
            "fall_winter"
        );
        let dark = atelier_vision::colour::dominant_colours(&[[20u8, 20, 30]; 50], 3);
        let light = atelier_vision::colour::dominant_colours(&[[240u8, 220, 200]; 50], 3);
        assert_eq!(
            suggest_season(&one_hot(834, 0.6), &dark).season,
            "fall_winter"
        );
        assert_eq!(
            suggest_season(&one_hot(834, 0.6), &light).season,
            "spring_summer"
        );
    }

    #[test]
    fn softmax_sums_to_one() {
        let p = softmax(&[1.0, 2.0, 3.0]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(p[2] > p[1] && p[1] > p[0]);
    }
}

mod letterbox {
    #[allow(unused_imports)]
    use atelier_vision::*;

    #[test]
    fn a_wide_photo_is_padded_top_and_bottom_and_maps_back() {
        let (w, h) = (400u32, 200u32);
        let rgb = vec![255u8; (w * h * 3) as usize];
        let (t, lb) = letterbox_tensor(&rgb, w, h, None, 256, (1.0, 0.0));
        assert_eq!(t.len(), 3 * 256 * 256);
        assert_eq!((lb.pad_x, lb.pad_y), (0.0, 64.0));
        assert_eq!(t[0], 0.0, "padding");
        assert!((t[128 * 256 + 128] - 1.0).abs() < 1e-6, "content");
        let (x, y) = lb.to_photo(128.0, 128.0);
        assert!(
            (x - 200.0).abs() < 0.5 && (y - 100.0).abs() < 0.5,
            "{x} {y}"
        );
        assert_eq!(lb.content(), (0, 64, 256, 128));
    }

    #[test]
    fn a_crop_maps_back_into_the_photo() {
        let rgb = vec![10u8; 300 * 300 * 3];
        let region = Rect {
            x: 100.0,
            y: 50.0,
            w: 100.0,
            h: 100.0,
        };
        let (_, lb) = letterbox_tensor(&rgb, 300, 300, Some(region), 256, (2.0, -1.0));
        let (x, y) = lb.to_photo(0.0, 256.0);
        assert!(
            (x - 100.0).abs() < 0.5 && (y - 150.0).abs() < 0.5,
            "{x} {y}"
        );
        // A region past the edge is clamped to the photo.
        let (_, lb) = letterbox_tensor(
            &rgb,
            300,
            300,
            Some(Rect {
                x: 250.0,
                y: -20.0,
                w: 100.0,
                h: 100.0,
            }),
            256,
            (1.0, 0.0),
        );
        assert_eq!(
            lb.region,
            Rect {
                x: 250.0,
                y: 0.0,
                w: 50.0,
                h: 80.0
            }
        );
    }

    /// A region wholly outside the photo (found by the property test
    /// below): the content stays inside the square.
    #[test]
    fn a_region_wholly_outside_the_photo_stays_inside_the_square() {
        let region = Rect {
            x: 0.0,
            y: -372.6,
            w: 0.0,
            h: 0.0,
        };
        let (t, lb) = letterbox_tensor(&[5u8; 3], 1, 1, Some(region), 64, (1.0, 0.0));
        assert_eq!(t.len(), 3 * 64 * 64);
        let (cx, cy, cw, ch) = lb.content();
        assert!(cx + cw <= 64 && cy + ch <= 64, "{lb:?}");
    }

    #[test]
    fn a_region_past_the_edge_keeps_its_place_with_padding() {
        // A 100×100 square whose top-left quarter is the photo's bottom
        // right corner: that quarter fills the input's top-left quarter.
        let rgb = vec![200u8; 100 * 100 * 3];
        let region = Rect {
            x: 50.0,
            y: 50.0,
            w: 100.0,
            h: 100.0,
        };
        let (t, lb) = letterbox_tensor(&rgb, 100, 100, Some(region), 64, (1.0, 0.0));
        assert_eq!((lb.pad_x, lb.pad_y), (0.0, 0.0));
        assert_eq!(lb.content(), (0, 0, 32, 32));
        assert!((t[10 * 64 + 10] - 200.0 / 255.0).abs() < 1e-3, "photo");
        assert_eq!(t[40 * 64 + 40], 0.0, "padding past the photo");
        // Input corners map to the wanted region's corners.
        assert_eq!(lb.to_photo(0.0, 0.0), (50.0, 50.0));
        assert_eq!(lb.to_photo(64.0, 64.0), (150.0, 150.0));
        // The same region starting above-left of the photo pads first.
        let region = Rect {
            x: -50.0,
            y: -50.0,
            w: 100.0,
            h: 100.0,
        };
        let (_, lb) = letterbox_tensor(&rgb, 100, 100, Some(region), 64, (1.0, 0.0));
        assert_eq!((lb.pad_x, lb.pad_y), (32.0, 32.0));
        assert_eq!(lb.to_photo(0.0, 0.0), (-50.0, -50.0));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]

            /// Any region, however it sits on the photo (fractional corners
            /// at the edge, partly or wholly outside), gives a tensor: a
            /// crop never panics (a person's crop at the photo's edge used
            /// to round past it).
            #[test]
            fn any_region_crops(w in 1u32..300, h in 1u32..300, x in -400f32..400.0, y in -400f32..400.0,
                                rw in 0f32..600.0, rh in 0f32..600.0, frac in 0f32..1.0) {
                let rgb = vec![9u8; (w * h * 3) as usize];
                let region = Rect { x: x + frac, y: y - frac, w: rw, h: rh };
                let (tensor, lb) = letterbox_tensor(&rgb, w, h, Some(region), 64, (1.0, 0.0));
                prop_assert_eq!(tensor.len(), 3 * 64 * 64);
                let (cx, cy, cw, ch) = lb.content();
                prop_assert!(cx + cw <= 64 && cy + ch <= 64, "{:?}", lb);
                prop_assert!(lb.region.x >= 0.0 && lb.region.x + lb.region.w <= w as f32 + 1e-3);
            }

            /// The letterbox keeps the photo's aspect, stays inside the
            /// square, and its corners map back to the photo's corners.
            #[test]
            fn the_content_maps_back_onto_the_whole_photo(w in 1u32..400, h in 1u32..400, size in 16u32..320) {
                let rgb = vec![128u8; (w * h * 3) as usize];
                let (tensor, lb) = letterbox_tensor(&rgb, w, h, None, size, (1.0, 0.0));
                prop_assert_eq!(tensor.len(), (3 * size * size) as usize);
                let (cx, cy, cw, ch) = lb.content();
                prop_assert!(cx + cw <= size && cy + ch <= size);
                // The longer side fills the square.
                prop_assert!(cw == size || ch == size, "{cw}x{ch} in {size}");
                let (x0, y0) = lb.to_photo(cx as f32, cy as f32);
                let (x1, y1) = lb.to_photo((cx + cw) as f32, (cy + ch) as f32);
                // Within a model pixel of the photo's corners.
                let tol = 1.0 / lb.scale + 1e-3;
                prop_assert!(x0.abs() <= tol && y0.abs() <= tol, "{x0},{y0}");
                prop_assert!((x1 - w as f32).abs() <= tol && (y1 - h as f32).abs() <= tol, "{x1},{y1} vs {w}x{h}");
                // Padding is black (b = 0), the content is the photo's grey.
                let mid = (cy + ch / 2) * size + cx + cw / 2;
                prop_assert!((tensor[mid as usize] - 128.0 / 255.0).abs() < 0.02);
            }
        }
    }
}

mod person {
    use atelier_vision::detect::*;
    use atelier_vision::letterbox_tensor;
    use atelier_vision::person::*;
    #[allow(unused_imports)]
    use atelier_vision::*;

    fn identity(size: u32) -> Letterbox {
        letterbox_tensor(
            &vec![0u8; (size * size * 3) as usize],
            size,
            size,
            None,
            size,
            (1.0, 0.0),
        )
        .1
    }

    #[test]
    fn detector_anchors_cover_three_grids() {
        let a = detector_anchors();
        assert_eq!(a.len(), 2254);
        assert_eq!(a[0], (0.5 / 28.0, 0.5 / 28.0));
        assert_eq!(a[1], a[0]);
        assert_eq!(a[1568], (0.5 / 14.0, 0.5 / 14.0));
        assert_eq!(a[2253], (6.5 / 7.0, 6.5 / 7.0));
    }

    #[test]
    fn a_nanodet_cell_decodes_into_a_box_around_its_centre() {
        let lb = identity(NANODET_SIZE);
        let cells = [52 * 52, 26 * 26, 13 * 13];
        let mut scores: Vec<Vec<f32>> = cells.iter().map(|&n| vec![0.0; n * 80]).collect();
        let mut dists: Vec<Vec<f32>> = cells.iter().map(|&n| vec![0.0; n * 44]).collect();
        // Stride 16, cell (row 5, col 10): centre (168, 88). Distances all
        // certain: left 2, top 3, right 1, bottom 4 strides.
        let cell = 5 * 26 + 10;
        scores[1][cell * 80] = 0.9;
        scores[1][cell * 80 + 15] = 0.95; // a cat score does not matter here
        for (side, bin) in [2usize, 3, 1, 4].into_iter().enumerate() {
            dists[1][cell * 44 + side * 11 + bin] = 50.0;
        }
        // A weaker, overlapping twin at the neighbouring cell is suppressed.
        scores[1][(cell + 1) * 80] = 0.5;
        for (side, bin) in [3usize, 3, 0, 4].into_iter().enumerate() {
            dists[1][(cell + 1) * 44 + side * 11 + bin] = 50.0;
        }
        let levels = [
            (&scores[0][..], &dists[0][..]),
            (&scores[1][..], &dists[1][..]),
            (&scores[2][..], &dists[2][..]),
        ];
        let found = nanodet_persons(&levels, &lb);
        assert_eq!(found.len(), 1, "{found:?}");
        let b = found[0].bbox;
        assert!((found[0].score - 0.9).abs() < 1e-6);
        for (got, want) in [(b.x0, 136.0), (b.y0, 40.0), (b.x1, 184.0), (b.y1, 152.0)] {
            assert!((got - want).abs() < 1e-2, "{b:?}");
        }
    }

    #[test]
    fn nanodet_input_is_bgr_and_normalised() {
        let mut t = vec![0f32; 3 * 4];
        t[0..4].fill(255.0); // red plane
        nanodet_normalise(&mut t);
        // Blue plane first: zero blue.
        assert!((t[0] - (0.0 - 103.53) / 57.375).abs() < 1e-4);
        // Red plane last: full red.
        assert!((t[8] - (255.0 - 123.675) / 58.395).abs() < 1e-4);
    }

    #[test]
    fn a_detection_decodes_and_places_the_landmark_crop_on_the_hips() {
        let lb = identity(DETECTOR_SIZE);
        let mut raw = vec![0f32; 2254 * 13];
        for i in 0..2254 {
            raw[i * 13] = -10.0;
        }
        // Anchor 0 sits at (4, 4) input pixels.
        raw[..13].copy_from_slice(&[
            3.0, 10.0, 6.0, 20.0, 20.0, // score, head cx, cy, w, h
            4.0, 96.0, // hips (8, 100)
            4.0, 16.0, // extent (8, 20): 80 px above the hips
            0.0, 0.0, 0.0, 0.0,
        ]);
        let found = pose_detections(&raw, &lb);
        assert_eq!(found.len(), 1);
        let d = found[0];
        assert!((d.score - sigmoid(3.0)).abs() < 1e-6);
        assert_eq!(
            d.head,
            BoxF {
                x0: 4.0,
                y0: 0.0,
                x1: 24.0,
                y1: 20.0
            }
        );
        assert_eq!((d.hips, d.extent), ((8.0, 100.0), (8.0, 20.0)));
        let r = d.landmark_region();
        assert_eq!((r.w, r.h), (200.0, 200.0));
        assert_eq!((r.x + r.w / 2.0, r.y + r.h / 2.0), (8.0, 100.0));

        let inside = Candidate {
            score: 0.8,
            bbox: BoxF {
                x0: 0.0,
                y0: 0.0,
                x1: 50.0,
                y1: 120.0,
            },
        };
        assert_eq!(confirming(&inside, &found), Some(d));
        // A candidate beside the head is not confirmed by it.
        let beside = Candidate {
            score: 0.8,
            bbox: BoxF {
                x0: 30.0,
                y0: 0.0,
                x1: 90.0,
                y1: 120.0,
            },
        };
        assert_eq!(confirming(&beside, &found), None);

        // Two heads inside one box (people overlapping): the one where the
        // box's own head belongs wins over a more confident neighbour's.
        let head = |x0: f32, score: f32| PoseDetection {
            score,
            head: BoxF {
                x0,
                y0: 10.0,
                x1: x0 + 20.0,
                y1: 30.0,
            },
            hips: (0.0, 0.0),
            extent: (0.0, 0.0),
        };
        let wide = Candidate {
            score: 0.8,
            bbox: BoxF {
                x0: 0.0,
                y0: 0.0,
                x1: 100.0,
                y1: 200.0,
            },
        };
        let own = head(40.0, 0.6);
        let neighbour = head(75.0, 0.95);
        assert_eq!(confirming(&wide, &[neighbour, own]), Some(own));
    }

    #[test]
    fn the_primary_person_is_large_and_central() {
        let centre = BoxF {
            x0: 400.0,
            y0: 200.0,
            x1: 600.0,
            y1: 600.0,
        };
        let corner_bigger = BoxF {
            x0: 0.0,
            y0: 0.0,
            x1: 220.0,
            y1: 420.0,
        };
        let small = BoxF {
            x0: 480.0,
            y0: 380.0,
            x1: 520.0,
            y1: 420.0,
        };
        assert_eq!(primary(&[corner_bigger, centre, small], 1000, 800), Some(1));
        assert_eq!(primary(&[small], 1000, 800), Some(0));
        assert_eq!(primary(&[], 1000, 800), None);
        // A box mostly outside the photo counts only its inside.
        let outside = BoxF {
            x0: -2000.0,
            y0: 0.0,
            x1: 100.0,
            y1: 800.0,
        };
        assert_eq!(primary(&[outside, centre], 1000, 800), Some(1));
    }

    #[test]
    fn boxes_overlap_and_square_up() {
        let a = BoxF {
            x0: 0.0,
            y0: 0.0,
            x1: 10.0,
            y1: 10.0,
        };
        let b = BoxF {
            x0: 5.0,
            y0: 0.0,
            x1: 15.0,
            y1: 10.0,
        };
        assert!((a.iou(&b) - 50.0 / 150.0).abs() < 1e-6);
        let s = BoxF {
            x0: 0.0,
            y0: 0.0,
            x1: 10.0,
            y1: 40.0,
        }
        .square(1.5);
        assert_eq!(
            s,
            Rect {
                x: -25.0,
                y: -10.0,
                w: 60.0,
                h: 60.0
            }
        );
    }
}

mod pose {
    use atelier_vision::Rect;
    #[allow(unused_imports)]
    use atelier_vision::*;

    fn identity(size: u32) -> Letterbox {
        Letterbox {
            scale: 1.0,
            pad_x: 0.0,
            pad_y: 0.0,
            region: Rect {
                x: 0.0,
                y: 0.0,
                w: size as f32,
                h: size as f32,
            },
            size,
        }
    }

    #[test]
    fn decodes_points_visibility_and_mask_coverage() {
        let mut landmarks = vec![0.0f32; 195];
        landmarks[0..5].copy_from_slice(&[10.0, 20.0, -3.0, 10.0, 0.0]);
        let mut mask = vec![-1.0f32; 16];
        mask[..4].fill(2.0);
        let out = decode_pose(&landmarks, 0.9, &mask, &identity(4));
        assert_eq!(out.keypoints.len(), 33);
        let nose = &out.keypoints[0];
        assert_eq!(
            (nose.name.as_str(), nose.x, nose.y, nose.z),
            ("nose", 10.0, 20.0, -3.0)
        );
        assert!(nose.visibility > 0.99);
        assert!((out.mask_coverage - 0.25).abs() < 1e-6);
    }
}

mod refine {
    use atelier_vision::refine::*;
    #[allow(unused_imports)]
    use atelier_vision::*;

    #[test]
    fn window_means_are_clipped_at_the_borders() {
        let v = [1.0f32, 2.0, 3.0, 4.0];
        let m = box_mean(&v, 4, 1, 1);
        assert_eq!(m, vec![1.5, 2.0, 3.0, 3.5]);
        let grid: Vec<f32> = (0..9).map(|i| i as f32).collect();
        let m = box_mean(&grid, 3, 3, 1);
        assert!(
            (m[4] - 4.0).abs() < 1e-6 && (m[0] - 2.0).abs() < 1e-6,
            "{m:?}"
        );
    }

    /// A photo split into a dark left and a light right half at x = 500,
    /// with a coarse mask whose half-on edge sits 6 px to the right, on the
    /// light side: the refined mask's edge moves onto the colour edge.
    #[test]
    fn a_misplaced_edge_snaps_to_the_colour_edge() {
        let (w, h) = (1024u32, 40u32);
        let mut rgb = Vec::new();
        for _ in 0..h {
            for x in 0..w {
                let v = if x < 500 {
                    [40u8, 60, 200]
                } else {
                    [230, 220, 90]
                };
                rgb.extend(v);
            }
        }
        // Coarse: 1 up to x = 502, a ramp to 0 at x = 510.
        let alpha: Vec<u8> = (0..h)
            .flat_map(|_| {
                (0..w).map(|x| (255.0 * (1.0 - (x as f32 - 502.0) / 8.0).clamp(0.0, 1.0)) as u8)
            })
            .collect();
        let refined = refine_mask(&rgb, w, h, &alpha);
        let row = (h / 2 * w) as usize;
        assert_eq!((alpha[row + 499], alpha[row + 500]), (255, 255));
        assert!(refined[row + 499] > 240, "{}", refined[row + 499]);
        assert!(refined[row + 500] < 128, "{}", refined[row + 500]);
        assert!(refined[row + 480] > 250 && refined[row + 600] < 10);
    }

    /// A body the coarse mask is sure of (x < 300) beside a patch it is
    /// half sure of (0.6, x 300–599) in the same colour, which the filter
    /// takes in whole: cut back to within half the filter's window of the
    /// core; the body's own soft edge stays.
    #[test]
    fn a_half_sure_region_is_cut_back_to_the_confident_core() {
        let (w, h) = (1024u32, 64u32);
        let rgb = vec![200u8; (w * h * 3) as usize];
        let coarse: Vec<u8> = (0..h)
            .flat_map(|_| {
                (0..w).map(|x| {
                    if x < 300 {
                        255
                    } else if x < 600 {
                        153
                    } else {
                        0
                    }
                })
            })
            .collect();
        let mut refined = refine_mask(&rgb, w, h, &coarse);
        let row = (h / 2 * w) as usize;
        assert!(
            refined[row + 450] > 128,
            "the filter keeps the patch: {}",
            refined[row + 450]
        );
        keep_near_core(&mut refined, &coarse, w, h);
        let r = (RADIUS * w / WORK_SIDE / 2) as usize;
        assert!(refined[row + 299] > 200 && refined[row + 299 + r] > 128);
        assert!(refined[row + 300 + r] == 0 && refined[row + 450] == 0);
        assert!(refined[row + 10] > 200, "the core stays");
    }

    #[test]
    fn empty_or_short_inputs_come_back_unchanged() {
        assert_eq!(refine_mask(&[], 0, 0, &[]), Vec::<u8>::new());
        assert_eq!(refine_mask(&[1, 2], 2, 1, &[9, 9]), vec![9, 9]);
    }
}

mod resize {
    use atelier_vision::resize::*;
    #[allow(unused_imports)]
    use atelier_vision::*;

    #[test]
    fn a_flat_image_stays_flat_at_any_size_and_a_crop_picks_its_region() {
        let grey = vec![77u8; 10 * 6 * 3];
        let out = bilinear::<U8x3>(&grey, (10, 6), (4, 3), None);
        assert_eq!(out, vec![77u8; 4 * 3 * 3]);
        // Black on the left, white from column 8: a crop well inside the
        // white is white, the whole is black on the left and white on the
        // right.
        let image: Vec<u8> = (0..16 * 4)
            .map(|i| if i % 16 < 8 { 0 } else { 255 })
            .collect();
        let white = bilinear::<U8>(&image, (16, 4), (2, 2), Some((11.0, 0.0, 4.0, 4.0)));
        assert_eq!(white, vec![255u8; 4]);
        let whole = bilinear::<U8>(&image, (16, 4), (4, 1), None);
        assert!(whole[0] == 0 && whole[3] == 255, "{whole:?}");
    }
}

mod segment {
    use atelier_vision::letterbox_tensor;
    #[allow(unused_imports)]
    use atelier_vision::*;

    #[test]
    fn a_mask_maps_back_onto_the_photo_with_soft_edges() {
        // A 400×200 photo letterboxed into 256: content rows 64..192.
        let (w, h) = (400u32, 200u32);
        let (_, lb) = letterbox_tensor(
            &vec![0u8; (w * h * 3) as usize],
            w,
            h,
            None,
            256,
            (1.0, 0.0),
        );
        // The person is the model's left half of the content: x < 128.
        let mut logits = vec![-8f32; 256 * 256];
        for y in 64..192 {
            for x in 0..128 {
                logits[y * 256 + x] = 8.0;
            }
        }
        let mask = upsample_mask(&logits, &lb, w, h);
        assert_eq!(mask.alpha.len(), (w * h) as usize);
        assert!((mask.coverage() - 0.5).abs() < 0.01, "{}", mask.coverage());
        let bbox = mask.bounding_box().unwrap();
        assert_eq!((bbox.x, bbox.y, bbox.height), (0, 0, 200));
        assert!((199..=201).contains(&bbox.width), "{bbox:?}");
        // Deep inside and far outside are hard; the edge is a ramp.
        assert_eq!(mask.alpha[(100 * w + 50) as usize], 255);
        assert_eq!(mask.alpha[(100 * w + 350) as usize], 0);
        let ramp: Vec<u8> = (196..204)
            .map(|x| mask.alpha[(100 * w + x) as usize])
            .collect();
        assert!(ramp.iter().any(|&a| a > 0 && a < 255), "{ramp:?}");
        assert!(ramp.windows(2).all(|p| p[0] >= p[1]), "{ramp:?}");

        let rgb = vec![7u8; (w * h * 3) as usize];
        let rgba = mask.cut_out(&rgb);
        assert_eq!(&rgba[..4], &[7, 7, 7, 255]);
        let last = rgba.len() - 4;
        assert_eq!(&rgba[last..], &[7, 7, 7, 0]);
    }

    #[test]
    fn isnet_tensors_stretch_and_masks_stretch_back() {
        // A 4×2 photo, left half black, right half white.
        let mut rgb = Vec::new();
        for _ in 0..2 {
            for x in 0..4 {
                let v = if x < 2 { 0u8 } else { 255 };
                rgb.extend([v, v, v]);
            }
        }
        let t = stretch_tensor(&rgb, 4, 2, 8);
        assert_eq!(t.len(), 3 * 64);
        assert!((t[0] - (-0.5)).abs() < 1e-6, "black is (0-128)/256");
        assert!(
            (t[7] - (127.0 / 256.0)).abs() < 1e-6,
            "white is (255-128)/256"
        );
        // The right half of an 8×8 map is foreground.
        let probs: Vec<f32> = (0..64)
            .map(|i| if i % 8 >= 4 { 1.0 } else { 0.0 })
            .collect();
        let mask = mask_from_probabilities(&probs, 8, 40, 20);
        assert_eq!(mask.alpha.len(), 800);
        assert!((mask.coverage() - 0.5).abs() < 0.05, "{}", mask.coverage());
        assert_eq!(mask.alpha[10 * 40 + 39], 255);
        assert_eq!(mask.alpha[10 * 40], 0);
    }

    #[test]
    fn an_empty_mask_has_no_box() {
        let (_, lb) = letterbox_tensor(&[0u8; 30], 5, 2, None, 256, (1.0, 0.0));
        let mask = upsample_mask(&vec![-5f32; 256 * 256], &lb, 5, 2);
        assert_eq!(mask.coverage(), 0.0);
        assert_eq!(mask.bounding_box(), None);
    }
}

mod skin {
    use atelier_vision::colour::*;
    use atelier_vision::skin::*;
    #[allow(unused_imports)]
    use atelier_vision::*;

    #[test]
    fn monk_references_match_themselves_and_order_light_to_deep() {
        for (i, hex) in MONK.iter().enumerate() {
            let m = nearest_monk(Lab::from_hex(hex).unwrap());
            assert_eq!(m.scale as usize, i + 1);
            assert!(m.delta_e < 1e-3);
        }
        let ls: Vec<f32> = MONK.iter().map(|h| Lab::from_hex(h).unwrap().l).collect();
        assert!(
            ls.windows(2).filter(|w| w[0] >= w[1]).count() >= 8,
            "{ls:?}"
        );
    }

    #[test]
    fn ita_and_undertone_follow_their_definitions() {
        let light = Lab {
            l: 70.0,
            a: 10.0,
            b: 15.0,
        };
        assert!((ita(light) - 53.13).abs() < 0.01);
        assert_eq!(ita_category(ita(light)), "light");
        assert_eq!(ita_category(-45.0), "dark");
        // Hue atan2(15, 10) = 56.3°: between pink and golden.
        assert_eq!(undertone(light), "neutral");
        let golden = Lab {
            l: 70.0,
            a: 6.0,
            b: 20.0,
        };
        assert_eq!(undertone(golden), "warm");
        let pink = Lab {
            l: 70.0,
            a: 14.0,
            b: 12.0,
        };
        assert_eq!(undertone(pink), "cool");
    }

    #[test]
    fn highlights_and_shadows_do_not_move_the_colour() {
        let skin = [200u8, 160, 130];
        let mut pixels = vec![skin; 70];
        pixels.extend(vec![[255u8, 255, 255]; 15]); // specular
        pixels.extend(vec![[20u8, 15, 10]; 15]); // shadow
        let (colour, kept) = robust_colour(&pixels).unwrap();
        assert_eq!(kept, 70);
        assert!(delta_e2000(colour, Lab::from_rgb(skin)) < 0.5);
        assert_eq!(robust_colour(&[]), None);
    }

    #[test]
    fn seasons_and_confidence() {
        let golden_light = Lab {
            l: 75.0,
            a: 8.0,
            b: 22.0,
        };
        let light = season_palette(golden_light, undertone(golden_light));
        assert_eq!((light.season, light.sub_season), ("spring", "light_spring"));
        assert!(!light.recommended.is_empty() && !light.avoid.is_empty());
        // What a palette recommends it never also says to avoid.
        assert!(light.recommended.iter().all(|c| !light.avoid.contains(c)));
        let deep_cool = Lab {
            l: 30.0,
            a: 12.0,
            b: 8.0,
        };
        let p = season_palette(deep_cool, undertone(deep_cool));
        assert_eq!((p.season, p.sub_season), ("winter", "deep_winter"));
        assert!(p.recommended.iter().all(|c| !p.avoid.contains(c)));
        // Opposite seasons get different colours.
        assert_ne!(p.recommended, light.recommended);
        assert!((confidence(1000, 2.0, 1.0) - 1.0).abs() < 1e-6);
        assert!(confidence(150, 2.0, 1.0) < 0.6);
        assert!(confidence(1000, 25.0, 1.0) < 0.3);
        assert!(confidence(1000, 2.0, 25.0) < 0.4);
    }

    #[test]
    fn a_cast_tints_the_neutrals_and_colourful_scenes_are_not_a_cast() {
        // Greys and a saturated red: no cast.
        let mut clean = Vec::new();
        for v in [40u8, 120, 200] {
            clean.extend([v, v, v].repeat(100));
        }
        clean.extend([220u8, 30, 30].repeat(300));
        assert!(colour_cast(&clean) < 1.0, "{}", colour_cast(&clean));
        // The same greys through a sepia tint.
        let mut sepia = Vec::new();
        for v in [40u8, 120, 200] {
            sepia.extend([v.saturating_add(20), v, v.saturating_sub(25)].repeat(100));
        }
        assert!(colour_cast(&sepia) > 10.0, "{}", colour_cast(&sepia));
    }

    #[test]
    fn samples_come_from_disks_around_the_points() {
        let (w, h) = (100u32, 100u32);
        let mut rgb = vec![0u8; (w * h * 3) as usize];
        for px in rgb.chunks_exact_mut(3) {
            px.copy_from_slice(&[180, 140, 120]);
        }
        let mut points = vec![(50.0f32, 50.0f32); 468];
        points[234] = (0.0, 50.0);
        points[454] = (100.0, 50.0);
        let regions = sample_skin(&rgb, w, h, &points);
        assert_eq!(regions.len(), 3);
        // Radius 6 px: about π·36 ≈ 113 pixels per point, two points each.
        for (_, pixels) in &regions {
            assert!((200..260).contains(&pixels.len()), "{}", pixels.len());
            assert!(pixels.iter().all(|p| *p == [180, 140, 120]));
        }
        assert!(sample_skin(&rgb, w, h, &points[..10]).is_empty());
    }
}
