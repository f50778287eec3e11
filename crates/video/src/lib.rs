//! Video encoding with FFmpeg: raw RGBA frames are piped into the `ffmpeg`
//! program, one process per output, and outputs are checked with `ffprobe`.
//!
//! Why a child process and not the libraries in-process (`ffmpeg-next`):
//! a codec that crashes (a segfault in libx264 or libvpx on a hostile or
//! unusual stream) kills only its `ffmpeg`, never the worker and the other
//! jobs it runs; a stuck encoder is killed like any process; the worker
//! builds without bindgen, clang and the `libav*-dev` headers; and measured
//! on this machine the CLI fed over a pipe is as fast as the libraries
//! (`benches/README.md`). The cost is one copy of each frame through a pipe,
//! a few milliseconds per 720p frame.
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

/// What can go wrong encoding or probing.
#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    /// `ffmpeg` or `ffprobe` could not be started (not installed?).
    #[error("cannot run {program}: {message}")]
    Spawn { program: String, message: String },
    /// The encoder exited with an error or died.
    #[error("{codec} encoder failed ({status}): {stderr}")]
    Failed {
        codec: &'static str,
        status: String,
        stderr: String,
    },
    #[error("frame of {got} bytes where {expected} were expected")]
    FrameSize { got: usize, expected: usize },
    #[error("ffprobe: {0}")]
    Probe(String),
}

/// Output containers and codecs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// MP4, H.264 (libx264), yuv420p, `+faststart`.
    H264,
    /// WebM, VP9 (libvpx-vp9), yuv420p.
    Vp9,
    /// Animated WebP (libwebp_anim), half the frame rate, at most 480 px wide:
    /// a light preview that loops.
    WebpPreview,
    /// Animated GIF (256-colour palette computed from the frames), half the
    /// frame rate, at most 480 px wide, looping.
    Gif,
}

impl Codec {
    pub fn name(self) -> &'static str {
        match self {
            Codec::H264 => "h264",
            Codec::Vp9 => "vp9",
            Codec::WebpPreview => "webp",
            Codec::Gif => "gif",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Codec::H264 => "mp4",
            Codec::Vp9 => "webm",
            Codec::WebpPreview => "webp",
            Codec::Gif => "gif",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Codec::H264 => "video/mp4",
            Codec::Vp9 => "video/webm",
            Codec::WebpPreview => "image/webp",
            Codec::Gif => "image/gif",
        }
    }
}

/// Encoder effort and quality: higher levels are larger and slower.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Draft,
    Standard,
    High,
    Ultra,
}

/// One output to encode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodeSpec {
    pub codec: Codec,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub level: Level,
}

impl EncodeSpec {
    /// Previews (animated WebP, GIF) run at half the rate, at most 480 px wide.
    fn is_preview(&self) -> bool {
        matches!(self.codec, Codec::WebpPreview | Codec::Gif)
    }

    /// Frames per second of the output.
    pub fn output_fps(&self) -> u32 {
        if self.is_preview() {
            (self.fps / 2).max(1)
        } else {
            self.fps
        }
    }

    /// Width and height of the output (previews scale to 480 px wide, even
    /// height, as the `scale` filter below does).
    pub fn output_size(&self) -> (u32, u32) {
        if !self.is_preview() || self.width <= 480 {
            return (self.width, self.height);
        }
        let h = (u64::from(self.height) * 480 / u64::from(self.width)) as u32;
        (480, h & !1)
    }

    /// Frames in the output for `frames` frames in.
    pub fn output_frames(&self, frames: u32) -> u32 {
        frames * self.output_fps() / self.fps.max(1)
    }

    /// The `ffmpeg` arguments after the raw-video input.
    pub fn output_args(&self) -> Vec<String> {
        let s = |v: &str| v.to_owned();
        let l = self.level;
        match self.codec {
            Codec::H264 => {
                let (crf, preset) = match l {
                    Level::Draft => (28, "veryfast"),
                    Level::Standard => (23, "medium"),
                    Level::High => (20, "slow"),
                    Level::Ultra => (17, "slow"),
                };
                vec![
                    s("-c:v"),
                    s("libx264"),
                    s("-preset"),
                    s(preset),
                    s("-crf"),
                    crf.to_string(),
                    s("-pix_fmt"),
                    s("yuv420p"),
                    s("-movflags"),
                    s("+faststart"),
                    s("-f"),
                    s("mp4"),
                ]
            }
            Codec::Vp9 => {
                let (crf, cpu) = match l {
                    Level::Draft => (40, 8),
                    Level::Standard => (33, 5),
                    Level::High => (28, 4),
                    Level::Ultra => (24, 2),
                };
                vec![
                    s("-c:v"),
                    s("libvpx-vp9"),
                    s("-crf"),
                    crf.to_string(),
                    s("-b:v"),
                    s("0"),
                    s("-deadline"),
                    s("good"),
                    s("-cpu-used"),
                    cpu.to_string(),
                    s("-row-mt"),
                    s("1"),
                    s("-pix_fmt"),
                    s("yuv420p"),
                    s("-f"),
                    s("webm"),
                ]
            }
            Codec::WebpPreview => {
                let q = match l {
                    Level::Draft => 55,
                    Level::Standard => 70,
                    Level::High => 80,
                    Level::Ultra => 88,
                };
                let fps = self.output_fps();
                vec![
                    s("-vf"),
                    format!("fps={fps},scale='min(480,iw)':-2:flags=lanczos"),
                    s("-c:v"),
                    s("libwebp_anim"),
                    s("-lossless"),
                    s("0"),
                    s("-q:v"),
                    q.to_string(),
                    s("-loop"),
                    s("0"),
                    s("-f"),
                    s("webp"),
                ]
            }
            Codec::Gif => {
                let fps = self.output_fps();
                vec![
                    s("-vf"),
                    format!(
                        "fps={fps},scale='min(480,iw)':-2:flags=lanczos,split[a][b];\
                         [a]palettegen=stats_mode=diff[p];[b][p]paletteuse=dither=bayer"
                    ),
                    s("-loop"),
                    s("0"),
                    s("-f"),
                    s("gif"),
                ]
            }
        }
    }
}

/// A running `ffmpeg` reading RGBA frames on its standard input.
pub struct Encoder {
    spec: EncodeSpec,
    child: Child,
    stdin: Option<ChildStdin>,
    stderr: Option<std::thread::JoinHandle<String>>,
    path: PathBuf,
    frames: u32,
}

impl Encoder {
    /// Start `ffmpeg` (the program at `ffmpeg`, usually just `"ffmpeg"`)
    /// writing `spec`'s output to `out`.
    pub fn start(ffmpeg: &Path, spec: EncodeSpec, out: &Path) -> Result<Encoder, VideoError> {
        let mut command = Command::new(ffmpeg);
        command
            .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
            .args(["-f", "rawvideo", "-pix_fmt", "rgba"])
            .args(["-s", &format!("{}x{}", spec.width, spec.height)])
            .args(["-framerate", &spec.fps.to_string(), "-i", "pipe:0"])
            .args(spec.output_args())
            .arg(out)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().map_err(|e| VideoError::Spawn {
            program: ffmpeg.display().to_string(),
            message: e.to_string(),
        })?;
        let stdin = child.stdin.take();
        let mut err = child.stderr.take().expect("stderr is piped");
        // Drain stderr as it comes so a chatty ffmpeg never blocks on it.
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = err.read_to_string(&mut text);
            text
        });
        Ok(Encoder {
            spec,
            child,
            stdin,
            stderr: Some(stderr),
            path: out.to_owned(),
            frames: 0,
        })
    }

    pub fn spec(&self) -> &EncodeSpec {
        &self.spec
    }

    /// Send one frame (RGBA, rows top to bottom).
    pub fn push(&mut self, rgba: &[u8]) -> Result<(), VideoError> {
        let expected = (self.spec.width * self.spec.height * 4) as usize;
        if rgba.len() != expected {
            return Err(VideoError::FrameSize {
                got: rgba.len(),
                expected,
            });
        }
        let stdin = self.stdin.as_mut().expect("open until finish");
        if stdin.write_all(rgba).is_err() {
            // The encoder died: its exit status and message say why.
            self.stdin = None;
            return Err(self.failure());
        }
        self.frames += 1;
        Ok(())
    }

    /// Close the input and wait for the file; its size in bytes.
    pub fn finish(mut self) -> Result<(PathBuf, u64), VideoError> {
        drop(self.stdin.take());
        let status = self.child.wait().map_err(|e| VideoError::Failed {
            codec: self.spec.codec.name(),
            status: "unknown".into(),
            stderr: e.to_string(),
        })?;
        let stderr = self.stderr.take().map(|h| h.join().unwrap_or_default());
        if !status.success() {
            return Err(VideoError::Failed {
                codec: self.spec.codec.name(),
                status: status.to_string(),
                stderr: tail(&stderr.unwrap_or_default()),
            });
        }
        let bytes = std::fs::metadata(&self.path)
            .map(|m| m.len())
            .map_err(|e| VideoError::Failed {
                codec: self.spec.codec.name(),
                status: status.to_string(),
                stderr: format!("no output file: {e}"),
            })?;
        Ok((self.path.clone(), bytes))
    }

    fn failure(&mut self) -> VideoError {
        let status = self
            .child
            .wait()
            .map(|s| s.to_string())
            .unwrap_or_else(|e| e.to_string());
        let stderr = self
            .stderr
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        VideoError::Failed {
            codec: self.spec.codec.name(),
            status,
            stderr: tail(&stderr),
        }
    }
}

impl Drop for Encoder {
    fn drop(&mut self) {
        // An encoder dropped before `finish` (the job failed or was
        // cancelled) must not outlive it.
        if self.stdin.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn tail(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(3)..].join("; ")
}

/// What `ffprobe` says of a video's first stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    pub format: String,
    pub codec: String,
    pub pixel_format: String,
    pub width: u32,
    pub height: u32,
    pub frames: u32,
    pub duration_s: f64,
}

/// Probe `path` with `ffprobe` (frames counted by decoding).
pub fn probe(ffprobe: &Path, path: &Path) -> Result<Probe, VideoError> {
    let out = Command::new(ffprobe)
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args(["-show_entries", "stream=codec_name,pix_fmt,width,height,nb_read_frames,duration:format=format_name,duration"])
        .args(["-of", "json"])
        .arg(path)
        .output()
        .map_err(|e| VideoError::Spawn {
            program: ffprobe.display().to_string(),
            message: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(VideoError::Probe(tail(&String::from_utf8_lossy(
            &out.stderr,
        ))));
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| VideoError::Probe(e.to_string()))?;
    let stream = &v["streams"][0];
    let num = |x: &serde_json::Value| -> Option<f64> {
        x.as_str()
            .and_then(|s| s.parse().ok())
            .or_else(|| x.as_f64())
    };
    Ok(Probe {
        format: v["format"]["format_name"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        codec: stream["codec_name"].as_str().unwrap_or_default().to_owned(),
        pixel_format: stream["pix_fmt"].as_str().unwrap_or_default().to_owned(),
        width: stream["width"].as_u64().unwrap_or(0) as u32,
        height: stream["height"].as_u64().unwrap_or(0) as u32,
        frames: num(&stream["nb_read_frames"]).unwrap_or(0.0) as u32,
        duration_s: num(&stream["duration"])
            .or_else(|| num(&v["format"]["duration"]))
            .unwrap_or(0.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(w: u32, h: u32, n: u32) -> impl Iterator<Item = Vec<u8>> {
        (0..n).map(move |i| {
            (0..w * h)
                .flat_map(|p| {
                    let x = (p % w + i * 4) % w;
                    [(x * 255 / w) as u8, 80, 200, 255]
                })
                .collect()
        })
    }

    #[test]
    fn every_codec_encodes_the_frames_it_is_given() {
        let dir = tempfile::tempdir().unwrap();
        for codec in [Codec::H264, Codec::Vp9, Codec::WebpPreview, Codec::Gif] {
            let spec = EncodeSpec {
                codec,
                width: 160,
                height: 90,
                fps: 24,
                level: Level::Draft,
            };
            let out = dir.path().join(format!("t.{}", codec.extension()));
            let mut enc = Encoder::start(Path::new("ffmpeg"), spec, &out).unwrap();
            for f in frames(160, 90, 24) {
                enc.push(&f).unwrap();
            }
            let (path, bytes) = enc.finish().unwrap();
            assert!(bytes > 100, "{codec:?}: {bytes} bytes");
            if codec == Codec::WebpPreview {
                // ffprobe does not decode animated WebP; its header says it is one.
                let data = std::fs::read(&path).unwrap();
                assert_eq!(&data[..4], b"RIFF");
                assert!(data.windows(4).any(|w| w == b"ANIM"), "not animated");
                continue;
            }
            let p = probe(Path::new("ffprobe"), &path).unwrap();
            if codec == Codec::Gif {
                assert_eq!(p.codec, "gif");
                assert_eq!((p.width, p.height), spec.output_size());
                assert_eq!(p.frames, spec.output_frames(24));
                continue;
            }
            assert_eq!((p.width, p.height, p.frames), (160, 90, 24), "{codec:?}");
            assert_eq!(p.codec, codec.name());
            assert_eq!(p.pixel_format, "yuv420p");
            assert!((p.duration_s - 1.0).abs() < 0.05, "{p:?}");
        }
    }

    #[test]
    fn a_wrong_frame_size_and_a_dead_encoder_are_errors_not_panics() {
        let dir = tempfile::tempdir().unwrap();
        let spec = EncodeSpec {
            codec: Codec::H264,
            width: 64,
            height: 64,
            fps: 24,
            level: Level::Draft,
        };
        let mut enc = Encoder::start(Path::new("ffmpeg"), spec, &dir.path().join("a.mp4")).unwrap();
        assert!(matches!(
            enc.push(&[0; 12]),
            Err(VideoError::FrameSize { .. })
        ));
        // An output ffmpeg cannot write: it exits, and pushing or finishing says so.
        let bad = dir.path().join("missing-dir/b.mp4");
        let mut enc = Encoder::start(Path::new("ffmpeg"), spec, &bad).unwrap();
        let frame = vec![0u8; 64 * 64 * 4];
        let mut failed = None;
        for _ in 0..200 {
            if let Err(e) = enc.push(&frame) {
                failed = Some(e);
                break;
            }
        }
        let err = match failed {
            Some(e) => e,
            None => enc.finish().unwrap_err(),
        };
        assert!(matches!(err, VideoError::Failed { .. }), "{err}");
        let missing = Encoder::start(
            Path::new("/nonexistent/ffmpeg"),
            spec,
            &dir.path().join("c.mp4"),
        );
        assert!(matches!(missing, Err(VideoError::Spawn { .. })));
    }
}
