//! `--dump-states FILE.html`: the hidden state over real text, seen. Every character of the
//! prime and of the sample is coloured by one hidden unit's activation `h_t[unit]` after the
//! model read it (blue -1, white 0, red +1: Karpathy's "Unreasonable Effectiveness" pictures),
//! with a unit picker, a layer picker and each layer's share of saturated units.
//!
//! The page is self-contained (inline CSS and script, the activations as embedded JSON; no
//! network) and draws without JavaScript too: the default unit's colours are in the markup,
//! the script only recolours. LSTM pages show `h`, not the cell state `c`.

use crate::Error;
use std::fmt::Write as _;
use std::path::Path;

/// The most activations (characters × layers × hidden units) a page may hold: about 6 bytes
/// each in the page, so at most ~25 MB of HTML, which a browser still opens.
pub const MAX_VALUES: usize = 1 << 22;

/// `|h|` above this counts as saturated (`tanh'(z) = 1 - h²` below 0.02).
pub const NEAR: f32 = 0.99;

/// Every layer's `h` after each character, in reading order.
#[derive(Clone, Debug)]
pub struct StateTrace {
    layers: usize,
    hidden: usize,
    /// `[t][layer][unit]`, row-major.
    values: Vec<f32>,
}

impl StateTrace {
    /// An empty trace of a stack of `layers` layers of `hidden` units.
    pub fn new(layers: usize, hidden: usize) -> Self {
        StateTrace {
            layers,
            hidden,
            values: Vec::new(),
        }
    }

    /// Appends one step from the stepper's packed state: `layers` blocks of `P * hidden`
    /// values (the parts side by side, `h` first), of which each block's `h` is kept.
    ///
    /// # Errors
    /// When `state` is not `layers` blocks of a whole number (at least 1) of `hidden` parts.
    pub fn push_packed(&mut self, state: &[f32]) -> Result<(), Error> {
        let block = state.len() / self.layers.max(1);
        if self.layers == 0
            || self.hidden == 0
            || block * self.layers != state.len()
            || block < self.hidden
            || !block.is_multiple_of(self.hidden)
        {
            return Err(format!(
                "--dump-states: a state of {} values is not {} layers of state parts of {} units",
                state.len(),
                self.layers,
                self.hidden
            )
            .into());
        }
        for l in 0..self.layers {
            self.values
                .extend_from_slice(&state[l * block..l * block + self.hidden]);
        }
        Ok(())
    }

    /// The number of characters traced.
    pub fn steps(&self) -> usize {
        self.values.len() / (self.layers * self.hidden).max(1)
    }

    /// `h_t[unit]` of `layer`.
    pub fn get(&self, t: usize, layer: usize, unit: usize) -> f32 {
        self.values[(t * self.layers + layer) * self.hidden + unit]
    }

    /// One layer's activations, `t`-major (`steps × hidden`).
    fn layer(&self, layer: usize) -> impl Iterator<Item = f32> + '_ {
        (0..self.steps()).flat_map(move |t| (0..self.hidden).map(move |u| self.get(t, layer, u)))
    }

    /// The standard deviation of each unit of `layer` over the text.
    fn unit_sd(&self, layer: usize) -> Vec<f64> {
        let n = self.steps().max(1) as f64;
        (0..self.hidden)
            .map(|u| {
                let v: Vec<f64> = (0..self.steps())
                    .map(|t| f64::from(self.get(t, layer, u)))
                    .collect();
                let mean = v.iter().sum::<f64>() / n;
                (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt()
            })
            .collect()
    }
}

/// How saturated one layer's units are over the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Saturation {
    /// Activations counted: characters × units.
    pub total: usize,
    /// Of them, `|h| > 0.99`.
    pub near: usize,
    /// Of them, exactly ±1 (recur's f32 `tanh` returns ±1 for |z| ≥ 7.905): no gradient at all.
    pub exact: usize,
    /// Units at `|h| > 0.99` on every character.
    pub always: usize,
}

impl Saturation {
    /// `part` of [`Saturation::total`] as a percentage.
    pub fn percent(&self, part: usize) -> f64 {
        100.0 * part as f64 / self.total.max(1) as f64
    }
}

/// Each layer's [`Saturation`].
pub fn saturation(trace: &StateTrace) -> Vec<Saturation> {
    (0..trace.layers)
        .map(|l| {
            let mut s = Saturation {
                total: trace.steps() * trace.hidden,
                near: 0,
                exact: 0,
                always: 0,
            };
            for v in trace.layer(l) {
                s.near += usize::from(v.abs() > NEAR);
                s.exact += usize::from(v.abs() == 1.0);
            }
            s.always = (0..trace.hidden)
                .filter(|&u| {
                    trace.steps() > 0 && (0..trace.steps()).all(|t| trace.get(t, l, u).abs() > NEAR)
                })
                .count();
            s
        })
        .collect()
}

/// Refuses a page too large to open (before anything is sampled).
pub fn check_size(chars: usize, layers: usize, hidden: usize) -> Result<(), Error> {
    let values = (chars as u128)
        .saturating_mul(layers as u128)
        .saturating_mul(hidden as u128);
    if values > MAX_VALUES as u128 {
        return Err(format!(
            "--dump-states: {chars} characters × {layers} layers × {hidden} units is {values} activations, more than the {MAX_VALUES} a page holds (about 25 MB of HTML); use a shorter --len"
        )
        .into());
    }
    Ok(())
}

/// Refuses a target that cannot be written (a directory, or in a missing directory) before
/// any training or sampling.
pub fn check_target(path: &Path) -> Result<(), Error> {
    if path.file_name().is_none() || std::fs::metadata(path).is_ok_and(|m| m.is_dir()) {
        return Err(format!("--dump-states {}: not a file path", path.display()).into());
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !std::fs::metadata(dir).is_ok_and(|m| m.is_dir()) {
        return Err(format!(
            "--dump-states {}: the directory {} does not exist",
            path.display(),
            dir.display()
        )
        .into());
    }
    Ok(())
}

/// What a page shows.
pub struct Page<'a> {
    /// The model, as PyTorch prints it (`LSTM(98, 256)`).
    pub model: &'a str,
    /// Where the text came from, `(label, value)` pairs shown under the title.
    pub about: &'a [(&'a str, String)],
    /// The prime and the sample, one character per traced step.
    pub text: &'a [char],
    /// How many of `text`'s characters are the prime (fed, not sampled).
    pub prime_len: usize,
    /// `h` after each character.
    pub trace: &'a StateTrace,
}

/// HTML-escapes `s` for text and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One character as it is shown: a newline as `↵` (the line break follows the span), other
/// control characters as their Unicode pictures (`␍`, `␀`), the rest escaped.
fn shown(c: char) -> String {
    match c {
        '\n' => "↵".into(),
        '\t' => "\t".into(),
        '\u{7f}' => "␡".into(),
        c if (c as u32) < 0x20 => char::from_u32(0x2400 + c as u32).unwrap_or('?').to_string(),
        c => esc(&c.to_string()),
    }
}

/// The background for an activation (the script's `colour` is the same formula).
fn colour(v: f32) -> String {
    if !v.is_finite() {
        return "#ddd".into();
    }
    let k = (200.0 * v.abs().min(1.0)).round() as u8;
    if v >= 0.0 {
        format!("rgb(255,{0},{0})", 255 - k)
    } else {
        let g = 255 - (0.6 * f32::from(k)).round() as u8;
        format!("rgb({},{g},255)", 255 - k)
    }
}

/// An activation for the page's JSON: 3 decimals; `±1` only when exactly ±1 (so the page can
/// tell "saturated" from "exactly 1"), `null` when not finite.
fn json_value(v: f32) -> String {
    if !v.is_finite() {
        return "null".into();
    }
    if v.abs() == 1.0 {
        return if v > 0.0 { "1" } else { "-1" }.into();
    }
    let mut q = (f64::from(v) * 1000.0).round() / 1000.0;
    if v.abs() < 1.0 && q.abs() >= 1.0 {
        q = 0.999f64.copysign(q);
    }
    if q == 0.0 {
        return "0".into();
    }
    let s = format!("{q:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The tooltip of an activation (the script's `show` is the same).
fn tooltip(v: f32) -> String {
    match json_value(v).as_str() {
        "null" => "h = not finite".into(),
        s @ ("1" | "-1") => format!("h = {s} (exactly)"),
        s => format!("h = {s}"),
    }
}

/// The page as HTML.
///
/// # Errors
/// When the text and the trace disagree in length, or the trace is empty.
pub fn render(p: &Page<'_>) -> Result<String, Error> {
    let tr = p.trace;
    if p.text.len() != tr.steps() || p.text.is_empty() || p.prime_len > p.text.len() {
        return Err(format!(
            "--dump-states: {} characters (prime {}) but {} traced steps",
            p.text.len(),
            p.prime_len,
            tr.steps()
        )
        .into());
    }
    let sds: Vec<Vec<f64>> = (0..tr.layers).map(|l| tr.unit_sd(l)).collect();
    // The default: the last layer's most variable unit.
    let layer = tr.layers - 1;
    let unit = (0..tr.hidden)
        .max_by(|&a, &b| sds[layer][a].total_cmp(&sds[layer][b]))
        .unwrap_or(0);

    let mut h = String::new();
    let _ = write!(
        h,
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>char_rnn hidden state: {model}</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; max-width: 75em; color: #222; }}
h1 {{ font-size: 1.3em; }} h2 {{ font-size: 1.1em; margin-top: 1.5em; }}
.about {{ color: #555; font-size: .9em; }}
#text {{ font-family: monospace; font-size: 15px; line-height: 1.6; white-space: pre-wrap;
  word-break: break-all; border: 1px solid #ccc; padding: .6em; }}
#text span.p {{ text-decoration: underline dotted #777; }}
.scale {{ display: inline-block; width: 12em; height: .9em; vertical-align: middle;
  border: 1px solid #bbb; background: linear-gradient(to right, {neg}, #fff, {pos}); }}
table {{ border-collapse: collapse; }}
th, td {{ border: 1px solid #ccc; padding: .2em .7em; text-align: right; }}
#status {{ font-size: .9em; color: #333; }}
</style>
</head>
<body>
<h1>The hidden state of {model}, character by character</h1>
<p class="about">"#,
        model = esc(p.model),
        neg = colour(-1.0),
        pos = colour(1.0),
    );
    let about: Vec<String> = p
        .about
        .iter()
        .map(|(k, v)| format!("{}: {}", esc(k), esc(v)))
        .collect();
    h.push_str(&about.join(" · "));
    let _ = write!(
        h,
        r#"</p>
<p>Each character is coloured by one hidden unit's activation <i>h<sub>t</sub></i>[unit]
after the model read it: <span class="scale"></span> from -1 (blue) through 0 (white) to +1
(red). Hover a character for the value. The prime, fed rather than sampled, is underlined.</p>
<p><label {hide}>layer <select id="layer">"#,
        hide = if tr.layers > 1 { "" } else { "hidden" },
    );
    for l in 0..tr.layers {
        let sel = if l == layer { " selected" } else { "" };
        let _ = write!(h, r#"<option value="{l}"{sel}>{l}</option>"#);
    }
    h.push_str("</select></label>\n<label>unit ");
    for (l, sd) in sds.iter().enumerate() {
        let hide = if l == layer { "" } else { " hidden" };
        let _ = write!(
            h,
            r#"<select class="unit" data-layer="{l}" aria-label="unit of layer {l}"{hide}>"#
        );
        for (u, s) in sd.iter().enumerate() {
            let sel = if l == layer && u == unit {
                " selected"
            } else {
                ""
            };
            let _ = write!(h, r#"<option value="{u}"{sel}>{u} (sd {s:.2})</option>"#);
        }
        h.push_str("</select>");
    }
    let _ = write!(
        h,
        r#"</label> <small>(sd: the unit's standard deviation over this text; the page opens
on the most variable unit of the last layer)</small></p>
<p id="status">layer {layer}, unit {unit} (JavaScript is off: the pickers do not recolour)</p>
<div id="text">"#
    );
    for (t, &c) in p.text.iter().enumerate() {
        let v = tr.get(t, layer, unit);
        let class = if t < p.prime_len { r#" class="p""# } else { "" };
        let _ = write!(
            h,
            r#"<span{class} style="background:{}" title="{}">{}</span>"#,
            colour(v),
            tooltip(v),
            shown(c)
        );
        if c == '\n' {
            h.push('\n');
        }
    }
    h.push_str(
        r#"</div>
<h2>Saturated units</h2>
<table id="saturation">
<tr><th>layer</th><th>units</th><th>|h| &gt; 0.99</th><th>|h| = 1 exactly</th><th>units at |h| &gt; 0.99 on every character</th></tr>
"#,
    );
    for (l, s) in saturation(tr).iter().enumerate() {
        let _ = writeln!(
            h,
            "<tr><td>{l}</td><td>{}</td><td>{:.1} %</td><td>{:.1} %</td><td>{}</td></tr>",
            tr.hidden,
            s.percent(s.near),
            s.percent(s.exact),
            s.always
        );
    }
    let _ = write!(
        h,
        r#"</table>
<p>Shares of all activations (characters × units) over this text. A unit at |h| &gt; 0.99
passes back less than 2 % of its gradient (tanh' = 1 - h²); at exactly ±1, which f32 tanh
returns for |z| ≥ 7.905, it passes none.</p>
<script type="application/json" id="states">{{"layers":{},"hidden":{},"steps":{},"h":["#,
        tr.layers,
        tr.hidden,
        tr.steps()
    );
    for l in 0..tr.layers {
        if l > 0 {
            h.push(',');
        }
        h.push('[');
        for (i, v) in tr.layer(l).enumerate() {
            if i > 0 {
                h.push(',');
            }
            h.push_str(&json_value(v));
        }
        h.push(']');
    }
    h.push_str("]}</script>\n<script>\n");
    h.push_str(SCRIPT);
    h.push_str("</script>\n</body>\n</html>\n");
    Ok(h)
}

/// Recolours the text for the picked layer and unit; `#layer=L&unit=U` in the address
/// picks them on load and follows the pickers (a link shows the same unit).
const SCRIPT: &str = r##"(function () {
  "use strict";
  const D = JSON.parse(document.getElementById("states").textContent);
  const spans = document.querySelectorAll("#text > span");
  const layerSel = document.getElementById("layer");
  const unitSels = Array.from(document.querySelectorAll("select.unit"));
  const status = document.getElementById("status");
  function colour(v) {
    if (v === null) return "#ddd";
    const k = Math.round(200 * Math.min(Math.abs(v), 1));
    return v >= 0 ? `rgb(255,${255 - k},${255 - k})`
                  : `rgb(${255 - k},${255 - Math.round(0.6 * k)},255)`;
  }
  function show(v) {
    if (v === null) return "h = not finite";
    return Math.abs(v) === 1 ? `h = ${v} (exactly)` : `h = ${v}`;
  }
  function draw(remember) {
    const l = Number(layerSel.value);
    unitSels.forEach((s, i) => { s.hidden = i !== l; });
    const u = Number(unitSels[l].value);
    const h = D.h[l];
    let lo = Infinity, hi = -Infinity, near = 0, coloured = 0;
    spans.forEach((span, t) => {
      const v = h[t * D.hidden + u];
      span.style.background = colour(v);
      span.title = show(v);
      coloured += 1;
      if (v !== null) {
        lo = Math.min(lo, v); hi = Math.max(hi, v);
        if (Math.abs(v) > 0.99) near += 1;
      }
    });
    status.textContent = `layer ${l}, unit ${u}: h from ${lo} to ${hi} over ${coloured} ` +
      `characters, |h| > 0.99 on ${(100 * near / Math.max(coloured, 1)).toFixed(1)} % of them`;
    if (remember) {
      try { history.replaceState(null, "", `#layer=${l}&unit=${u}`); } catch (e) { /* file: */ }
    }
  }
  const want = /layer=(\d+)/.exec(location.hash), unit = /unit=(\d+)/.exec(location.hash);
  if (want && Number(want[1]) < D.layers) layerSel.value = want[1];
  if (unit && Number(unit[1]) < D.hidden) unitSels[Number(layerSel.value)].value = unit[1];
  layerSel.addEventListener("change", () => draw(true));
  unitSels.forEach((s) => s.addEventListener("change", () => draw(true)));
  draw(false);
})();
"##;

/// Renders the page and writes it atomically (a reader never sees half a page).
pub fn write(path: &Path, page: &Page<'_>) -> Result<(), Error> {
    let html = render(page)?;
    recur::nn::checkpoint::write_atomic(path, html.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A trace from per-step, per-layer rows.
    fn trace(rows: &[&[&[f32]]]) -> StateTrace {
        let (layers, hidden) = (rows[0].len(), rows[0][0].len());
        let mut t = StateTrace::new(layers, hidden);
        for step in rows {
            let packed: Vec<f32> = step.iter().flat_map(|l| l.iter().copied()).collect();
            t.push_packed(&packed).unwrap();
        }
        t
    }

    fn page_html(text: &str, tr: &StateTrace) -> String {
        let text: Vec<char> = text.chars().collect();
        render(&Page {
            model: "RNN(4, 2)",
            about: &[("prime", "a<b".into())],
            text: &text,
            prime_len: 1,
            trace: tr,
        })
        .unwrap()
    }

    #[test]
    fn text_is_escaped_and_newlines_shown() {
        let text = "<a&\"'\n\u{1}";
        let rows: Vec<&[&[f32]]> = vec![&[&[0.5, -0.5]]; 7];
        let html = page_html(text, &trace(&rows));
        let body = &html[html.find(r#"<div id="text">"#).unwrap()..html.find("</div>").unwrap()];
        // One span per character, in order, each escaped; the newline shown as ↵ with the
        // line break after its span; a control character as its picture.
        let shown: Vec<&str> = body
            .split("<span")
            .skip(1)
            .map(|s| &s[s.find('>').unwrap() + 1..s.find("</span>").unwrap()])
            .collect();
        assert_eq!(shown, ["&lt;", "a", "&amp;", "&quot;", "&#39;", "↵", "␁"]);
        assert!(body.contains("↵</span>\n<span"));
        assert!(body.ends_with("␁</span>"));
        assert!(!body.contains("<a") && !body.contains("&\""));
        // The about line is escaped too; the only raw `<` in the page open tags.
        assert!(html.contains("prime: a&lt;b"));
        assert_eq!(esc(r#"<&"'>"#), "&lt;&amp;&quot;&#39;&gt;");
    }

    #[test]
    fn saturation_counts_a_hand_made_state() {
        // Two layers of three units over four characters.
        let rows: [&[&[f32]]; 4] = [
            &[&[1.0, 0.5, -0.995], &[0.0, 0.0, 0.0]],
            &[&[-1.0, 0.99, -0.999], &[0.0, 0.0, 0.0]],
            &[&[0.999_9, -0.2, -0.991], &[1.0, 0.0, 0.0]],
            &[&[-0.995, 0.0, -1.0], &[0.0, 0.0, 0.0]],
        ];
        let s = saturation(&trace(&rows));
        // Layer 0: |h| > 0.99 at 1, -1, 0.9999, -0.995 (unit 0), and unit 2 throughout;
        // 0.99 itself is not above; exactly ±1 three times; units 0 and 2 always saturated.
        assert_eq!(
            s[0],
            Saturation {
                total: 12,
                near: 8,
                exact: 3,
                always: 2
            }
        );
        assert_eq!(
            s[1],
            Saturation {
                total: 12,
                near: 1,
                exact: 1,
                always: 0
            }
        );
        assert!((s[0].percent(s[0].near) - 200.0 / 3.0).abs() < 1e-12);
        let html = page_html("abcd", &trace(&rows));
        assert!(
            html.contains("<tr><td>0</td><td>3</td><td>66.7 %</td><td>25.0 %</td><td>2</td></tr>")
        );
        assert!(
            html.contains("<tr><td>1</td><td>3</td><td>8.3 %</td><td>8.3 %</td><td>0</td></tr>")
        );
    }

    #[test]
    fn packed_states_keep_h_and_the_json_marks_exact_ones() {
        // An LSTM-like packed state: per layer h then c; only h is kept.
        let mut t = StateTrace::new(2, 2);
        t.push_packed(&[0.1, 0.2, 5.0, 6.0, 0.3, 0.4, 7.0, 8.0])
            .unwrap();
        assert_eq!((t.steps(), t.get(0, 0, 1), t.get(0, 1, 0)), (1, 0.2, 0.3));
        assert!(t.push_packed(&[0.0; 7]).is_err());
        assert_eq!(json_value(1.0), "1");
        assert_eq!(json_value(0.999_99), "0.999");
        assert_eq!(json_value(-0.000_1), "0");
        assert_eq!(json_value(-0.25), "-0.25");
        assert_eq!(json_value(f32::NAN), "null");
        assert_eq!(tooltip(-1.0), "h = -1 (exactly)");
        // The default unit is the last layer's most variable one; its colours are in the
        // markup (the page draws without the script).
        let mut t = StateTrace::new(1, 3);
        for v in [[0.0, 1.0, 0.1], [0.0, -1.0, 0.2]] {
            t.push_packed(&v).unwrap();
        }
        let html = page_html("ab", &t);
        assert!(html.contains(r#"<option value="1" selected>1 (sd 1.00)</option>"#));
        assert!(html.contains(r#"style="background:rgb(255,55,55)" title="h = 1 (exactly)""#));
        assert!(html.contains(r#""h":[[0,1,0.1,0,-1,0.2]]"#));
        assert!(
            render(&Page {
                model: "",
                about: &[],
                text: &['a'],
                prime_len: 0,
                trace: &t
            })
            .is_err()
        );
    }

    #[test]
    fn sizes_and_targets_are_checked() {
        assert!(check_size(300, 2, 256).is_ok());
        assert!(check_size(usize::MAX, usize::MAX, 2).is_err());
        assert!(check_target(Path::new(".")).is_err());
        assert!(check_target(Path::new("/nonexistent-dir-xyz/s.html")).is_err());
        assert!(check_target(&std::env::temp_dir().join("s.html")).is_ok());
    }
}
