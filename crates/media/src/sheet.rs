//! Export helpers: a one-page PDF sheet (written directly: JPEG images as
//! DCT streams, the PDF base-14 Helvetica fonts, so nothing is embedded but
//! the pictures) and a logo watermark composited onto RGBA frames.
use std::fmt::Write as _;

use crate::MediaError;

/// A picture for the sheet, JPEG-encoded.
pub struct SheetImage {
    pub label: String,
    pub width: u32,
    pub height: u32,
    pub jpeg: Vec<u8>,
}

/// What the sheet shows: a title, pictures side by side, lines of text and
/// colour swatches (sRGB) with their labels.
pub struct Sheet {
    pub title: String,
    pub subtitle: String,
    pub images: Vec<SheetImage>,
    pub lines: Vec<String>,
    pub swatches: Vec<(String, [u8; 3])>,
}

/// A PDF string literal: Latin-1 (WinAnsi) with `\`, `(` and `)` escaped;
/// other characters become `?`.
fn pdf_text(s: &str) -> String {
    let mut out = String::from("(");
    for c in s.chars() {
        match c {
            '\\' | '(' | ')' => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) >= 32 && (c as u32) < 127 => out.push(c),
            c if (c as u32) >= 160 && (c as u32) < 256 => {
                let _ = write!(out, "\\{:03o}", c as u32);
            }
            _ => out.push('?'),
        }
    }
    out.push(')');
    out
}

/// The sheet as a one-page A4 landscape PDF.
pub fn sheet_pdf(sheet: &Sheet) -> Vec<u8> {
    let (page_w, page_h) = (842.0f32, 595.0f32);
    let mut content = String::new();
    let _ = writeln!(
        content,
        "BT /F2 20 Tf 40 550 Td {} Tj ET",
        pdf_text(&sheet.title)
    );
    let _ = writeln!(
        content,
        "BT /F1 10 Tf 40 534 Td {} Tj ET",
        pdf_text(&sheet.subtitle)
    );
    // Pictures side by side in the band between y = 170 and y = 520.
    let n = sheet.images.len().max(1) as f32;
    let slot_w = (page_w - 80.0 - 20.0 * (n - 1.0)) / n;
    let slot_h = 330.0f32;
    for (i, img) in sheet.images.iter().enumerate() {
        let scale = (slot_w / img.width as f32).min(slot_h / img.height as f32);
        let (w, h) = (img.width as f32 * scale, img.height as f32 * scale);
        let x = 40.0 + i as f32 * (slot_w + 20.0) + (slot_w - w) / 2.0;
        let y = 190.0 + (slot_h - h) / 2.0;
        let _ = writeln!(content, "q {w:.2} 0 0 {h:.2} {x:.2} {y:.2} cm /Im{i} Do Q");
        let _ = writeln!(
            content,
            "BT /F1 10 Tf {:.2} 176 Td {} Tj ET",
            40.0 + i as f32 * (slot_w + 20.0),
            pdf_text(&img.label)
        );
    }
    for (i, line) in sheet.lines.iter().take(10).enumerate() {
        let _ = writeln!(
            content,
            "BT /F1 9 Tf 40 {:.2} Td {} Tj ET",
            150.0 - 12.0 * i as f32,
            pdf_text(line)
        );
    }
    for (i, (label, [r, g, b])) in sheet.swatches.iter().take(8).enumerate() {
        let y = 138.0 - 16.0 * i as f32;
        let _ = writeln!(
            content,
            "q {:.3} {:.3} {:.3} rg 560 {y:.2} 14 14 re f Q",
            f32::from(*r) / 255.0,
            f32::from(*g) / 255.0,
            f32::from(*b) / 255.0
        );
        let _ = writeln!(
            content,
            "BT /F1 9 Tf 580 {:.2} Td {} Tj ET",
            y + 3.0,
            pdf_text(label)
        );
    }

    // Objects: 1 catalog, 2 pages, 3 page, 4-5 fonts, 6.. images, then content.
    let mut objects: Vec<Vec<u8>> = Vec::new();
    let images_start = 6;
    let content_id = images_start + sheet.images.len();
    let xobjects: String = (0..sheet.images.len())
        .map(|i| format!("/Im{i} {} 0 R ", images_start + i))
        .collect();
    objects.push(b"<< /Type /Catalog /Pages 2 0 R >>".to_vec());
    objects.push(b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec());
    objects.push(
        format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {page_w} {page_h}] \
             /Resources << /Font << /F1 4 0 R /F2 5 0 R >> /XObject << {xobjects}>> >> \
             /Contents {content_id} 0 R >>"
        )
        .into_bytes(),
    );
    for font in ["Helvetica", "Helvetica-Bold"] {
        objects.push(
            format!(
                "<< /Type /Font /Subtype /Type1 /BaseFont /{font} /Encoding /WinAnsiEncoding >>"
            )
            .into_bytes(),
        );
    }
    for img in &sheet.images {
        let mut obj = format!(
            "<< /Type /XObject /Subtype /Image /Width {} /Height {} /ColorSpace /DeviceRGB \
             /BitsPerComponent 8 /Filter /DCTDecode /Length {} >>\nstream\n",
            img.width,
            img.height,
            img.jpeg.len()
        )
        .into_bytes();
        obj.extend_from_slice(&img.jpeg);
        obj.extend_from_slice(b"\nendstream");
        objects.push(obj);
    }
    let mut stream = format!("<< /Length {} >>\nstream\n", content.len()).into_bytes();
    stream.extend_from_slice(content.as_bytes());
    stream.extend_from_slice(b"endstream");
    objects.push(stream);

    let mut out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (i, obj) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(obj);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    let mut table = format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
    for o in offsets {
        let _ = writeln!(table, "{o:010} 00000 n ");
    }
    let _ = write!(
        table,
        "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        objects.len() + 1
    );
    out.extend_from_slice(table.as_bytes());
    out
}

/// Encode RGBA as JPEG (quality 0–100), composited on `background` (sRGB).
pub fn encode_jpeg_on(
    width: u32,
    height: u32,
    rgba: &[u8],
    background: [u8; 3],
    quality: u8,
) -> Vec<u8> {
    let rgb: Vec<u8> = rgba
        .chunks_exact(4)
        .flat_map(|p| {
            let a = u16::from(p[3]);
            [0, 1, 2]
                .map(|c| ((u16::from(p[c]) * a + u16::from(background[c]) * (255 - a)) / 255) as u8)
        })
        .collect();
    let mut out = Vec::new();
    let mut enc =
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality.clamp(1, 100));
    enc.encode(&rgb, width, height, image::ExtendedColorType::Rgb8)
        .expect("the buffer matches its size");
    out
}

/// Where a logo sits on a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Corner {
    TopLeft,
    TopRight,
    BottomLeft,
    BottomRight,
    Centre,
}

/// A decoded logo, RGBA.
#[derive(Debug, Clone)]
pub struct Logo {
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<u8>,
}

impl Logo {
    /// Decode an uploaded PNG (or JPEG/WebP), bounded like photos.
    pub fn decode(bytes: &[u8], max_dimension: u32) -> Result<Logo, MediaError> {
        crate::sniff(bytes)?;
        let reader = image::ImageReader::new(std::io::Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| MediaError::Corrupt(e.to_string()))?;
        let (w, h) = reader
            .into_dimensions()
            .map_err(|e| MediaError::Corrupt(e.to_string()))?;
        if w > max_dimension || h > max_dimension {
            return Err(MediaError::TooLarge {
                width: w,
                height: h,
                max_pixels: u64::from(max_dimension) * u64::from(max_dimension),
                max_dimension,
            });
        }
        let img = image::load_from_memory(bytes)
            .map_err(|e| MediaError::Corrupt(e.to_string()))?
            .into_rgba8();
        Ok(Logo {
            width: img.width(),
            height: img.height(),
            rgba: img.into_raw(),
        })
    }

    /// The logo scaled to `width` pixels wide (aspect kept).
    pub fn scaled(&self, width: u32) -> Logo {
        let width = width.max(1);
        let height = ((u64::from(self.height) * u64::from(width)) / u64::from(self.width.max(1)))
            .max(1) as u32;
        let src = image::RgbaImage::from_raw(self.width, self.height, self.rgba.clone())
            .expect("logo buffer matches its size");
        let out =
            image::imageops::resize(&src, width, height, image::imageops::FilterType::Triangle);
        Logo {
            width,
            height,
            rgba: out.into_raw(),
        }
    }

    /// Composite the logo over a straight-alpha RGBA frame at `corner`, with
    /// a margin of 3 % of the frame's width, at `opacity` (0–1).
    pub fn overlay(&self, frame: &mut [u8], width: u32, height: u32, corner: Corner, opacity: f32) {
        let margin = width * 3 / 100;
        let (lw, lh) = (self.width.min(width), self.height.min(height));
        let x0 = match corner {
            Corner::TopLeft | Corner::BottomLeft => margin,
            Corner::TopRight | Corner::BottomRight => width.saturating_sub(lw + margin),
            Corner::Centre => (width - lw) / 2,
        };
        let y0 = match corner {
            Corner::TopLeft | Corner::TopRight => margin,
            Corner::BottomLeft | Corner::BottomRight => height.saturating_sub(lh + margin),
            Corner::Centre => (height - lh) / 2,
        };
        let opacity = opacity.clamp(0.0, 1.0);
        for y in 0..lh {
            for x in 0..lw {
                let (fx, fy) = (x0 + x, y0 + y);
                if fx >= width || fy >= height {
                    continue;
                }
                let l = ((y * self.width + x) * 4) as usize;
                let f = ((fy * width + fx) * 4) as usize;
                let a = f32::from(self.rgba[l + 3]) / 255.0 * opacity;
                if a <= 0.0 {
                    continue;
                }
                let ba = f32::from(frame[f + 3]) / 255.0;
                let out_a = a + ba * (1.0 - a);
                for c in 0..3 {
                    let v = (f32::from(self.rgba[l + c]) * a
                        + f32::from(frame[f + c]) * ba * (1.0 - a))
                        / out_a.max(1e-6);
                    frame[f + c] = v.round().clamp(0.0, 255.0) as u8;
                }
                frame[f + 3] = (out_a * 255.0).round() as u8;
            }
        }
    }
}
