//! Hand-written SVG line charts and atomic file writes, for the examples' loss curves and
//! gradient-norm plots. No plotting crate: a chart is a few dozen SVG elements.
//!
//! Shared by the examples (`mod plot;`); each uses part of it.
#![allow(dead_code)]

use std::fmt::Write as _;

/// Colours that stay apart on white, in order.
pub const PALETTE: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

/// One line of a chart. `y` may be non-finite: `+inf` / NaN are drawn as a cross on the top
/// edge (overflow), `-inf` as a cross on the bottom edge (underflow to zero on a log axis);
/// the line breaks there.
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend label.
    pub label: String,
    /// `(x, y)` points in x order.
    pub points: Vec<(f64, f64)>,
    /// Stroke colour (e.g. one of [`PALETTE`]).
    pub color: &'static str,
    /// Draw dashed.
    pub dashed: bool,
}

/// A chart: axes, optional log10 y axis (the `y` values are then already log10), series.
#[derive(Clone, Debug)]
pub struct Chart {
    /// Title above the plot.
    pub title: String,
    /// x axis label.
    pub x_label: String,
    /// y axis label.
    pub y_label: String,
    /// The y values are log10 of the quantity; ticks read `1e-3`, `1e0`, ...
    pub y_log10: bool,
    /// Fixed y range (else from the finite data).
    pub y_range: Option<(f64, f64)>,
    /// The lines.
    pub series: Vec<Series>,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// About `n` round tick positions covering `[lo, hi]`.
fn ticks(lo: f64, hi: f64, n: usize, integer: bool) -> Vec<f64> {
    let span = (hi - lo).max(1e-12);
    let raw = span / n as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let mut step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    if integer {
        step = step.max(1.0).round();
    }
    let mut t = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while t <= hi + 1e-9 * span {
        out.push(if t.abs() < 1e-12 * span { 0.0 } else { t });
        t += step;
    }
    out
}

fn fmt_tick(v: f64, log10: bool) -> String {
    if log10 {
        format!("1e{}", v.round() as i64)
    } else if v.abs() >= 1e4 || (v != 0.0 && v.abs() < 1e-2) {
        format!("{v:.0e}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

impl Chart {
    /// The chart as an SVG fragment of `w x h` pixels at `(x0, y0)` (a `<g>`).
    pub fn render_at(&self, x0: f64, y0: f64, w: f64, h: f64) -> String {
        let (ml, mr, mt, mb) = (62.0, 150.0, 30.0, 44.0);
        let (pw, ph) = (w - ml - mr, h - mt - mb);
        let finite = || {
            self.series
                .iter()
                .flat_map(|s| s.points.iter())
                .filter(|p| p.0.is_finite() && p.1.is_finite())
        };
        let (mut xlo, mut xhi) =
            finite().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
        let (mut ylo, mut yhi) = match self.y_range {
            Some(r) => r,
            None => finite().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1))),
        };
        if xlo > xhi {
            (xlo, xhi) = (0.0, 1.0);
        }
        if ylo > yhi {
            (ylo, yhi) = (0.0, 1.0);
        }
        if xhi == xlo {
            xhi = xlo + 1.0;
        }
        if yhi == ylo {
            (ylo, yhi) = (ylo - 0.5, yhi + 0.5);
        }
        let pad = 0.04 * (yhi - ylo);
        if self.y_range.is_none() {
            (ylo, yhi) = (ylo - pad, yhi + pad);
        }
        let sx = |x: f64| ml + (x - xlo) / (xhi - xlo) * pw;
        let sy = |y: f64| mt + (1.0 - (y - ylo) / (yhi - ylo)) * ph;
        let mut s = String::new();
        let _ = writeln!(s, r#"<g transform="translate({x0},{y0})">"#);
        let _ = writeln!(
            s,
            r##"<rect x="{ml}" y="{mt}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>"##
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="18" text-anchor="middle" font-size="14" font-weight="bold">{}</text>"#,
            ml + pw / 2.0,
            esc(&self.title)
        );
        for t in ticks(xlo, xhi, 8, false) {
            let x = sx(t);
            let _ = writeln!(
                s,
                r##"<line x1="{x:.1}" y1="{mt}" x2="{x:.1}" y2="{:.1}" stroke="#ddd"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" font-size="11">{}</text>"##,
                mt + ph,
                mt + ph + 14.0,
                fmt_tick(t, false)
            );
        }
        for t in ticks(ylo, yhi, 7, self.y_log10) {
            let y = sy(t);
            let _ = writeln!(
                s,
                r##"<line x1="{ml}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end" font-size="11">{}</text>"##,
                ml + pw,
                ml - 4.0,
                y + 4.0,
                fmt_tick(t, self.y_log10)
            );
        }
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle" font-size="12">{}</text>"#,
            ml + pw / 2.0,
            h - 8.0,
            esc(&self.x_label)
        );
        let _ = writeln!(
            s,
            r#"<text transform="translate(14,{}) rotate(-90)" text-anchor="middle" font-size="12">{}</text>"#,
            mt + ph / 2.0,
            esc(&self.y_label)
        );
        for (k, ser) in self.series.iter().enumerate() {
            let dash = if ser.dashed {
                r#" stroke-dasharray="5,3""#
            } else {
                ""
            };
            let mut run: Vec<String> = Vec::new();
            let mut marked = false;
            let flush = |run: &mut Vec<String>, s: &mut String| {
                if let [p] = run.as_slice() {
                    // An isolated point: a dot.
                    let (x, y) = p.split_once(',').expect("x,y");
                    let _ = writeln!(
                        s,
                        r#"<circle cx="{x}" cy="{y}" r="2.5" fill="{}"/>"#,
                        ser.color
                    );
                } else if run.len() > 1 {
                    let _ = writeln!(
                        s,
                        r#"<polyline fill="none" stroke="{}" stroke-width="1.6"{dash} points="{}"/>"#,
                        ser.color,
                        run.join(" ")
                    );
                }
                run.clear();
            };
            for &(x, y) in &ser.points {
                if y.is_finite() {
                    let yc = y.clamp(ylo, yhi);
                    run.push(format!("{:.1},{:.1}", sx(x), sy(yc)));
                    marked = false;
                } else {
                    flush(&mut run, &mut s);
                    if !marked {
                        let (yy, what) = if y == f64::NEG_INFINITY {
                            (mt + ph, "0 (underflow)")
                        } else if y.is_nan() {
                            (mt, "NaN")
                        } else {
                            (mt, "inf")
                        };
                        let xx = sx(x);
                        let _ = writeln!(
                            s,
                            r#"<path d="M{:.1},{:.1}l8,8m0,-8l-8,8" stroke="{}" stroke-width="2"><title>{}: {what}</title></path>"#,
                            xx - 4.0,
                            yy - 4.0,
                            ser.color,
                            esc(&ser.label)
                        );
                        marked = true;
                    }
                }
            }
            flush(&mut run, &mut s);
            let ly = mt + 8.0 + 16.0 * k as f64;
            let lx = ml + pw + 10.0;
            let _ = writeln!(
                s,
                r#"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{}" stroke-width="2"{dash}/><text x="{}" y="{}" font-size="11">{}</text>"#,
                lx + 18.0,
                ser.color,
                lx + 22.0,
                ly + 4.0,
                esc(&ser.label)
            );
        }
        s.push_str("</g>\n");
        s
    }
}

/// Charts in a grid of `cols` columns, each `w x h`, as one SVG document, with a note line
/// under them.
///
/// ```
/// use plot::{Chart, PALETTE, Series, grid};
/// let chart = Chart {
///     title: "loss".into(),
///     x_label: "step".into(),
///     y_label: "nats/char".into(),
///     y_log10: false,
///     y_range: None,
///     series: vec![Series { label: "train".into(), points: vec![(0.0, 4.2), (100.0, 2.1)], color: PALETTE[0], dashed: false }],
/// };
/// let svg = grid(&[chart], 1, 600.0, 360.0, "");
/// assert!(svg.starts_with("<svg") && svg.contains("train") && svg.trim_end().ends_with("</svg>"));
/// ```
pub fn grid(charts: &[Chart], cols: usize, w: f64, h: f64, note: &str) -> String {
    let rows = charts.len().div_ceil(cols.max(1));
    let (tw, th) = (w * cols as f64, h * rows as f64 + 24.0);
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{tw}" height="{th}" viewBox="0 0 {tw} {th}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
"#
    );
    for (i, c) in charts.iter().enumerate() {
        s.push_str(&c.render_at((i % cols) as f64 * w, (i / cols) as f64 * h, w, h));
    }
    let _ = writeln!(
        s,
        r##"<text x="10" y="{}" font-size="11" fill="#555">{}</text>"##,
        th - 8.0,
        esc(note)
    );
    s.push_str("</svg>\n");
    s
}

/// Creates `path`'s directory if missing, then writes `bytes` to `path` atomically with
/// [`recur::nn::checkpoint::write_atomic`] (the one implementation: a uniquely named
/// temporary in the same directory, synced, then renamed over `path`), so a reader never
/// sees a half-written file.
///
/// # Errors
/// When the directory cannot be created or is not writable (the temporary file is removed;
/// `path` is untouched).
///
/// ```
/// let p = std::env::temp_dir().join(format!("recur_doc_{}/chart.svg", std::process::id()));
/// plot::write_atomic(&p, b"hello")?;
/// assert_eq!(std::fs::read(&p)?, b"hello");
/// # std::fs::remove_dir_all(p.parent().unwrap())?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> recur::nn::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| recur::nn::NnError::Io {
            path: dir.display().to_string(),
            source,
        })?;
    }
    recur::nn::checkpoint::write_atomic(path, bytes)
}
