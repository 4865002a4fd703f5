//! A small SVG line chart, for the examples' loss curves and gradient-norm plots (no plotting
//! dependency: the format is text).

use std::fmt::Write as _;

/// One named line of `(x, y)` points.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend label.
    pub name: String,
    /// The points, in x order. Non-finite y values are skipped (a gap, not a crash).
    pub points: Vec<(f64, f64)>,
}

/// A line chart with axes, ticks and a legend, rendered to SVG text.
///
/// ```
/// use recur::plot::{LineChart, Series};
/// let svg = LineChart::new("loss", "step", "nats/char")
///     .series(Series { name: "train".into(), points: vec![(0.0, 4.2), (100.0, 2.1), (200.0, 1.7)] })
///     .to_svg();
/// assert!(svg.starts_with("<svg") && svg.contains("train") && svg.trim_end().ends_with("</svg>"));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct LineChart {
    title: String,
    x_label: String,
    y_label: String,
    log_y: bool,
    series: Vec<Series>,
}

const COLORS: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];
const W: f64 = 760.0;
const H: f64 = 440.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 170.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;

impl LineChart {
    /// An empty chart.
    pub fn new(title: &str, x_label: &str, y_label: &str) -> Self {
        LineChart {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            log_y: false,
            series: vec![],
        }
    }
    /// Plots y on a log10 scale (for geometric growth or decay); non-positive y are skipped.
    pub fn log_y(mut self, on: bool) -> Self {
        self.log_y = on;
        self
    }
    /// Adds a line.
    pub fn series(mut self, s: Series) -> Self {
        self.series.push(s);
        self
    }

    fn ty(&self, y: f64) -> Option<f64> {
        if !y.is_finite() || (self.log_y && y <= 0.0) {
            return None;
        }
        Some(if self.log_y { y.log10() } else { y })
    }

    /// The SVG document.
    pub fn to_svg(&self) -> String {
        let pts: Vec<(f64, f64)> = self
            .series
            .iter()
            .flat_map(|s| {
                s.points
                    .iter()
                    .filter_map(|&(x, y)| self.ty(y).map(|y| (x, y)))
            })
            .collect();
        let (mut x0, mut x1, mut y0, mut y1) = pts.iter().fold(
            (f64::MAX, f64::MIN, f64::MAX, f64::MIN),
            |(a, b, c, d), &(x, y)| (a.min(x), b.max(x), c.min(y), d.max(y)),
        );
        if pts.is_empty() {
            (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
        }
        if x1 <= x0 {
            x1 = x0 + 1.0;
        }
        if y1 <= y0 {
            y1 = y0 + 1.0;
        }
        let pad = (y1 - y0) * 0.05;
        let (y0, y1) = (y0 - pad, y1 + pad);
        let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
        let sx = |x: f64| LEFT + (x - x0) / (x1 - x0) * pw;
        let sy = |y: f64| TOP + (1.0 - (y - y0) / (y1 - y0)) * ph;
        let mut s = String::new();
        let _ = writeln!(
            s,
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">"##
        );
        let _ = writeln!(s, r##"<rect width="100%" height="100%" fill="white"/>"##);
        let _ = writeln!(
            s,
            r##"<text x="{}" y="22" font-size="15" text-anchor="middle">{}</text>"##,
            LEFT + pw / 2.0,
            esc(&self.title)
        );
        let _ = writeln!(
            s,
            r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>"##
        );
        for i in 0..=5 {
            let f = i as f64 / 5.0;
            let (xv, yv) = (x0 + f * (x1 - x0), y0 + f * (y1 - y0));
            let ylab = if self.log_y {
                format!("1e{yv:.1}")
            } else {
                fmt_num(yv)
            };
            let _ = writeln!(
                s,
                r##"<line x1="{0}" y1="{1}" x2="{0}" y2="{2}" stroke="#ddd"/><text x="{0}" y="{3}" text-anchor="middle">{4}</text>"##,
                sx(xv),
                TOP,
                TOP + ph,
                TOP + ph + 16.0,
                fmt_num(xv)
            );
            let _ = writeln!(
                s,
                r##"<line x1="{0}" y1="{1}" x2="{2}" y2="{1}" stroke="#ddd"/><text x="{3}" y="{4}" text-anchor="end">{5}</text>"##,
                LEFT,
                sy(yv),
                LEFT + pw,
                LEFT - 6.0,
                sy(yv) + 4.0,
                ylab
            );
        }
        let _ = writeln!(
            s,
            r##"<text x="{}" y="{}" text-anchor="middle">{}</text>"##,
            LEFT + pw / 2.0,
            H - 12.0,
            esc(&self.x_label)
        );
        let _ = writeln!(
            s,
            r##"<text x="16" y="{}" text-anchor="middle" transform="rotate(-90 16 {})">{}</text>"##,
            TOP + ph / 2.0,
            TOP + ph / 2.0,
            esc(&self.y_label)
        );
        for (i, ser) in self.series.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            // Split the line at skipped points so gaps show as gaps.
            let mut path = String::new();
            let mut pen_down = false;
            for &(x, y) in &ser.points {
                match self.ty(y) {
                    Some(y) => {
                        let _ = write!(
                            path,
                            "{}{:.1},{:.1} ",
                            if pen_down { "L" } else { "M" },
                            sx(x),
                            sy(y)
                        );
                        pen_down = true;
                    }
                    None => pen_down = false,
                }
            }
            let _ = writeln!(
                s,
                r##"<path d="{}" fill="none" stroke="{color}" stroke-width="1.6"/>"##,
                path.trim_end()
            );
            let ly = TOP + 14.0 + 18.0 * i as f64;
            let _ = writeln!(
                s,
                r##"<line x1="{0}" y1="{1}" x2="{2}" y2="{1}" stroke="{color}" stroke-width="2"/><text x="{3}" y="{4}">{5}</text>"##,
                LEFT + pw + 10.0,
                ly,
                LEFT + pw + 30.0,
                LEFT + pw + 36.0,
                ly + 4.0,
                esc(&ser.name)
            );
        }
        s.push_str("</svg>\n");
        s
    }
}

fn fmt_num(v: f64) -> String {
    if v != 0.0 && (v.abs() >= 1e5 || v.abs() < 1e-2) {
        format!("{v:.1e}")
    } else {
        format!("{}", (v * 100.0).round() / 100.0)
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, synced, then
/// renamed over `path`, so a reader never sees a half-written file.
///
/// # Errors
/// When the directory is not writable (the temporary file is removed; `path` is untouched).
///
/// ```
/// let p = std::env::temp_dir().join(format!("recur_doc_{}.txt", std::process::id()));
/// recur::plot::write_atomic(&p, b"hello")?;
/// assert_eq!(std::fs::read(&p)?, b"hello");
/// # std::fs::remove_file(&p)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
