//! CLIP's image preprocessing, as transformers' `CLIPImageProcessorPil` does it (the PIL
//! backend, which transformers 5 uses when torchvision is absent): convert to RGB, resize the
//! shortest side with PIL's bicubic filter, centre-crop, rescale by 1/255 and normalise.
//!
//! The resize is a port of Pillow's `Resample.c` (separable convolution, horizontal pass
//! first, coefficients in 22-bit fixed point, each pass rounded back to 8 bits), so the
//! pixels equal Pillow's exactly; `image`'s own filters would differ by a level here and
//! there.
use std::path::{Path, PathBuf};

use image::{DynamicImage, RgbImage};
use serde::Deserialize;

use super::super::json::read_json;
use super::super::{ModelError, Result};

/// `preprocessor_config.json`: the fields that shape the pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageConfig {
    /// The resize target of the shortest side (`size.shortest_edge`).
    pub shortest_edge: u32,
    pub crop_height: u32,
    pub crop_width: u32,
    pub mean: [f32; 3],
    pub std: [f32; 3],
    pub rescale_factor: f64,
    pub do_resize: bool,
    pub do_center_crop: bool,
    pub do_rescale: bool,
    pub do_normalize: bool,
}

/// transformers' `OPENAI_CLIP_STD`, digit for digit as written there (f32 rounds them as
/// PyTorch's float32 does).
#[allow(clippy::excessive_precision)]
const OPENAI_CLIP_STD: [f32; 3] = [0.26862954, 0.26130258, 0.27577711];

impl Default for ImageConfig {
    /// CLIPImageProcessor's defaults (openai/clip-vit-base-patch32).
    fn default() -> Self {
        Self {
            shortest_edge: 224,
            crop_height: 224,
            crop_width: 224,
            mean: [0.481_454_66, 0.457_827_5, 0.408_210_73],
            std: OPENAI_CLIP_STD,
            rescale_factor: 1.0 / 255.0,
            do_resize: true,
            do_center_crop: true,
            do_rescale: true,
            do_normalize: true,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum SizeField {
    Int(u32),
    Map {
        shortest_edge: Option<u32>,
        height: Option<u32>,
        width: Option<u32>,
    },
}

#[derive(Debug, Deserialize)]
struct RawImageConfig {
    size: Option<SizeField>,
    crop_size: Option<SizeField>,
    image_mean: Option<Vec<f32>>,
    image_std: Option<Vec<f32>>,
    rescale_factor: Option<f64>,
    resample: Option<u32>,
    do_resize: Option<bool>,
    do_center_crop: Option<bool>,
    do_rescale: Option<bool>,
    do_normalize: Option<bool>,
}

/// PIL's `Image.BICUBIC`.
const PIL_BICUBIC: u32 = 3;

impl ImageConfig {
    /// Reads `preprocessor_config.json` in `dir` (the hub's layout), else the `image_processor`
    /// of `processor_config.json` (what transformers 5 saves); CLIP's defaults without either.
    pub fn load(dir: &Path) -> Result<Self> {
        let legacy = dir.join("preprocessor_config.json");
        let combined = dir.join("processor_config.json");
        let (path, raw): (PathBuf, RawImageConfig) = if legacy.is_file() {
            (legacy.clone(), read_json(&legacy)?)
        } else if combined.is_file() {
            let value: serde_json::Value = read_json(&combined)?;
            let Some(inner) = value.get("image_processor") else {
                return Ok(Self::default());
            };
            let raw = serde_json::from_value(inner.clone())
                .map_err(|e| ModelError::invalid(&combined, format!("image_processor: {e}")))?;
            (combined, raw)
        } else {
            return Ok(Self::default());
        };
        let bad = |m: String| ModelError::invalid(&path, m);
        let mut out = Self::default();
        if let Some(r) = raw.resample.filter(|&r| r != PIL_BICUBIC) {
            return Err(bad(format!(
                "resample {r} is not supported (only 3, bicubic, as CLIP uses)"
            )));
        }
        match raw.size {
            None => {}
            Some(SizeField::Int(n))
            | Some(SizeField::Map {
                shortest_edge: Some(n),
                ..
            }) => out.shortest_edge = n,
            Some(other) => {
                return Err(bad(format!(
                    "size {other:?} is not supported (only shortest_edge)"
                )))
            }
        }
        match raw.crop_size {
            None => {}
            Some(SizeField::Int(n)) => (out.crop_height, out.crop_width) = (n, n),
            Some(SizeField::Map {
                height: Some(h),
                width: Some(w),
                ..
            }) => (out.crop_height, out.crop_width) = (h, w),
            Some(other) => return Err(bad(format!("crop_size {other:?} has no height and width"))),
        }
        for (field, value, target) in [
            ("image_mean", raw.image_mean, &mut out.mean),
            ("image_std", raw.image_std, &mut out.std),
        ] {
            if let Some(v) = value {
                *target = <[f32; 3]>::try_from(v.as_slice())
                    .map_err(|_| bad(format!("{field} has {} values, not 3", v.len())))?;
            }
        }
        if out.std.contains(&0.0) || out.shortest_edge == 0 || out.crop_height == 0 {
            return Err(bad("image_std, size and crop_size must not be 0".into()));
        }
        out.rescale_factor = raw.rescale_factor.unwrap_or(out.rescale_factor);
        out.do_resize = raw.do_resize.unwrap_or(true);
        out.do_center_crop = raw.do_center_crop.unwrap_or(true);
        out.do_rescale = raw.do_rescale.unwrap_or(true);
        out.do_normalize = raw.do_normalize.unwrap_or(true);
        Ok(out)
    }

    /// Pixels `[3, height, width]` (channel-major, as `pixel_values`) of one decoded image.
    pub fn pixels(&self, image: &RgbImage) -> Pixels {
        let mut img = image.clone();
        if self.do_resize {
            let (w, h) = shortest_edge_size(img.width(), img.height(), self.shortest_edge);
            img = resize_bicubic(&img, w, h);
        }
        if self.do_center_crop {
            img = center_crop(&img, self.crop_width, self.crop_height);
        }
        let (w, h) = (img.width() as usize, img.height() as usize);
        let mut data = vec![0f32; 3 * w * h];
        for (x, y, p) in img.enumerate_pixels() {
            for c in 0..3 {
                // transformers: uint8 -> float64 * rescale_factor -> float32, then
                // (x - mean) / std in float32.
                let mut v = if self.do_rescale {
                    (f64::from(p[c]) * self.rescale_factor) as f32
                } else {
                    f32::from(p[c])
                };
                if self.do_normalize {
                    v = (v - self.mean[c]) / self.std[c];
                }
                data[c * w * h + y as usize * w + x as usize] = v;
            }
        }
        Pixels {
            height: h,
            width: w,
            data,
        }
    }
}

/// One image's preprocessed pixels, `[3, height, width]` row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Pixels {
    pub height: usize,
    pub width: usize,
    pub data: Vec<f32>,
}

/// Decodes an image file (format from its content) and converts it to 8-bit RGB as PIL's
/// `convert("RGB")` does: alpha dropped, grey replicated, palettes expanded; 16-bit samples
/// keep their high byte, as Pillow reads 16-bit PNGs.
pub fn open_rgb(path: &Path) -> Result<RgbImage> {
    let fail = |message: String| ModelError::Invalid {
        path: PathBuf::from(path),
        message,
    };
    let reader = image::ImageReader::open(path)
        .map_err(|source| ModelError::Io {
            path: path.to_owned(),
            source,
        })?
        .with_guessed_format()
        .map_err(|e| fail(format!("cannot read image: {e}")))?;
    if reader.format().is_none() {
        return Err(fail(
            "not an image bigyo can read (PNG, JPEG, GIF, BMP, WebP)".into(),
        ));
    }
    let image = reader
        .decode()
        .map_err(|e| fail(format!("cannot decode image: {e}")))?;
    Ok(to_rgb8(image))
}

fn to_rgb8(image: DynamicImage) -> RgbImage {
    let high = |v: u16| (v >> 8) as u8;
    match image {
        DynamicImage::ImageRgb16(img) => RgbImage::from_fn(img.width(), img.height(), |x, y| {
            let p = img.get_pixel(x, y);
            image::Rgb([high(p[0]), high(p[1]), high(p[2])])
        }),
        DynamicImage::ImageRgba16(img) => {
            let rgba = image::RgbaImage::from_fn(img.width(), img.height(), |x, y| {
                let p = img.get_pixel(x, y);
                image::Rgba([high(p[0]), high(p[1]), high(p[2]), high(p[3])])
            });
            over_white(&rgba)
        }
        other if other.color().has_alpha() => over_white(&other.to_rgba8()),
        other => other.to_rgb8(),
    }
}

/// transformers' `convert_to_rgb`: transparency is composited onto white with Pillow's
/// `alpha_composite` (AlphaComposite.c, 7-bit fixed point, over an opaque white background).
fn over_white(img: &image::RgbaImage) -> RgbImage {
    const BITS: u32 = 7;
    RgbImage::from_fn(img.width(), img.height(), |x, y| {
        let p = img.get_pixel(x, y);
        let a = u32::from(p[3]);
        if a == 0 {
            return image::Rgb([255, 255, 255]);
        }
        let outa255 = a * 255 + 255 * (255 - a);
        let coef1 = a * 255 * 255 * (1 << BITS) / outa255;
        let coef2 = 255 * (1 << BITS) - coef1;
        let c = |v: u8| {
            let t = u32::from(v) * coef1 + 255 * coef2 + (0x80 << BITS);
            ((((t >> 8) + t) >> 8) >> BITS) as u8
        };
        image::Rgb([c(p[0]), c(p[1]), c(p[2])])
    })
}

/// transformers' `get_resize_output_image_size(default_to_square=False)`: the short side
/// becomes `size`, the long side `int(size * long / short)`.
pub fn shortest_edge_size(width: u32, height: u32, size: u32) -> (u32, u32) {
    let (short, long) = if width <= height {
        (width, height)
    } else {
        (height, width)
    };
    let new_long = (f64::from(size) * f64::from(long) / f64::from(short.max(1))) as u32;
    if width <= height {
        (size, new_long)
    } else {
        (new_long, size)
    }
}

/// transformers' `center_crop`: offsets `(size - crop) // 2`; an image smaller than the crop
/// is padded with zeros around it first (top/left get `ceil((crop - size) / 2)`).
pub fn center_crop(img: &RgbImage, crop_w: u32, crop_h: u32) -> RgbImage {
    let (w, h) = (i64::from(img.width()), i64::from(img.height()));
    let (cw, ch) = (i64::from(crop_w), i64::from(crop_h));
    let top = if h >= ch {
        (h - ch) / 2
    } else {
        -((ch - h + 1) / 2)
    };
    let left = if w >= cw {
        (w - cw) / 2
    } else {
        -((cw - w + 1) / 2)
    };
    RgbImage::from_fn(crop_w, crop_h, |x, y| {
        let (sx, sy) = (i64::from(x) + left, i64::from(y) + top);
        if sx >= 0 && sy >= 0 && sx < w && sy < h {
            *img.get_pixel(sx as u32, sy as u32)
        } else {
            image::Rgb([0, 0, 0])
        }
    })
}

/// Pillow's fixed-point precision for 8-bit images (`PRECISION_BITS` in Resample.c).
const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Pillow's bicubic kernel (a = -0.5), support 2.
fn bicubic(x: f64) -> f64 {
    let a = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * a
    } else {
        0.0
    }
}

/// Per output position: the first input index, the tap count, and the fixed-point weights
/// (Resample.c's `precompute_coeffs` + `normalize_coeffs_8bpc`).
fn coefficients(in_size: u32, out_size: u32) -> Vec<(usize, Vec<i32>)> {
    let scale = f64::from(in_size) / f64::from(out_size);
    let filterscale = scale.max(1.0);
    let support = 2.0 * filterscale;
    (0..out_size)
        .map(|xx| {
            let center = (f64::from(xx) + 0.5) * scale;
            let ss = 1.0 / filterscale;
            // C's (int) truncates toward zero, as `as i64` does.
            let xmin = ((center - support + 0.5) as i64).max(0);
            let xmax = ((center + support + 0.5) as i64).min(i64::from(in_size)) - xmin;
            let weights: Vec<f64> = (0..xmax.max(0))
                .map(|x| bicubic(((x + xmin) as f64 - center + 0.5) * ss))
                .collect();
            let total: f64 = weights.iter().sum();
            let fixed = weights
                .iter()
                .map(|&w| {
                    let w = if total != 0.0 { w / total } else { w };
                    let scaled = w * f64::from(1u32 << PRECISION_BITS);
                    if w < 0.0 {
                        (-0.5 + scaled) as i32
                    } else {
                        (0.5 + scaled) as i32
                    }
                })
                .collect();
            (xmin as usize, fixed)
        })
        .collect()
}

fn clip8(v: i64) -> u8 {
    (v >> PRECISION_BITS).clamp(0, 255) as u8
}

fn convolve(samples: impl Iterator<Item = u8>, weights: &[i32]) -> u8 {
    let mut acc: i64 = 1 << (PRECISION_BITS - 1);
    for (s, &k) in samples.zip(weights) {
        acc += i64::from(s) * i64::from(k);
    }
    clip8(acc)
}

/// Pillow's `Image.resize(size, Image.BICUBIC)` on an RGB image: a horizontal pass, then a
/// vertical one, each skipped when that dimension keeps its size.
pub fn resize_bicubic(img: &RgbImage, width: u32, height: u32) -> RgbImage {
    let mut current = img.clone();
    if width != img.width() {
        let coeffs = coefficients(img.width(), width);
        let src = &current;
        current = RgbImage::from_fn(width, img.height(), |x, y| {
            let (start, k) = &coeffs[x as usize];
            let px = |c: usize| {
                convolve(
                    (0..k.len()).map(|i| src.get_pixel((start + i) as u32, y)[c]),
                    k,
                )
            };
            image::Rgb([px(0), px(1), px(2)])
        });
    }
    if height != img.height() {
        let coeffs = coefficients(img.height(), height);
        let src = &current;
        current = RgbImage::from_fn(width, height, |x, y| {
            let (start, k) = &coeffs[y as usize];
            let px = |c: usize| {
                convolve(
                    (0..k.len()).map(|i| src.get_pixel(x, (start + i) as u32)[c]),
                    k,
                )
            };
            image::Rgb([px(0), px(1), px(2)])
        });
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortest_side_becomes_the_target_and_the_long_side_truncates() {
        assert_eq!(shortest_edge_size(640, 480, 224), (298, 224));
        assert_eq!(shortest_edge_size(37, 101, 224), (224, 611));
        assert_eq!(shortest_edge_size(224, 224, 224), (224, 224));
    }

    #[test]
    fn bicubic_weights_sum_to_one_in_fixed_point() {
        for (i, o) in [(640, 298), (37, 224), (300, 224)] {
            for (_, k) in coefficients(i, o) {
                let sum: i64 = k.iter().map(|&w| i64::from(w)).sum();
                assert!(
                    (sum - (1 << PRECISION_BITS)).abs() <= k.len() as i64,
                    "{sum}"
                );
            }
        }
    }

    #[test]
    fn a_flat_image_stays_flat_through_resize_and_crop() {
        let img = RgbImage::from_pixel(57, 31, image::Rgb([10, 200, 255]));
        let out = resize_bicubic(&img, 412, 224);
        assert!(out.pixels().all(|p| p.0 == [10, 200, 255]));
        let cropped = center_crop(&out, 224, 224);
        assert_eq!(cropped.dimensions(), (224, 224));
        assert!(cropped.pixels().all(|p| p.0 == [10, 200, 255]));
    }

    #[test]
    fn center_crop_pads_a_small_image_with_black() {
        let img = RgbImage::from_pixel(2, 2, image::Rgb([9, 9, 9]));
        let out = center_crop(&img, 5, 5);
        // top/left padding ceil(3 / 2) = 2.
        assert_eq!(out.get_pixel(2, 2).0, [9, 9, 9]);
        assert_eq!(out.get_pixel(1, 1).0, [0, 0, 0]);
        assert_eq!(out.get_pixel(4, 4).0, [0, 0, 0]);
    }
}
