//! The training loop: a [`Trainer`] owns the model, the optimizer, the data and the history,
//! and does one thing per method: [`Trainer::step`], [`Trainer::evaluate`],
//! [`Trainer::save`], [`Trainer::resume`].
//!
//! What a checkpoint holds: the parameters, the optimizer's state, the truncated-BPTT hidden
//! state (a tensor), the settings, the step and the whole loss history. A resumed run
//! therefore continues exactly, and rewrites `loss.csv` from the checkpoint: after any kill,
//! the resumed run's `loss.csv` equals the uninterrupted run's, row for row.

use crate::Error;
use crate::data::{Batch, Corpus, random_windows, windows};
use crate::model::CharModel;
use crate::plot::{Chart, PALETTE, Series, grid};
use crate::settings::{Settings, step_rng};
use recur::autograd::Tape;
use recur::nn::checkpoint::{
    Tensors, load_training_state_with, read_metadata, save_training_state_with, write_atomic,
};
use recur::nn::clip::clip_grad_norm;
use recur::nn::optim::{Optimizer, param_names};
use recur::tensor::Tensor;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The checkpoint format this trainer writes (and the one before it, which it resumes).
const FORMAT: &str = "recur-char-rnn/2";

/// One row of `loss.csv`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Row {
    /// The step just taken (1-based).
    pub step: usize,
    /// Its training loss (nats/char).
    pub train_loss: f64,
    /// The validation loss, at evaluation steps.
    pub val_loss: Option<f64>,
    /// The global gradient norm before clipping (NaN in histories from before it was logged).
    pub grad_norm: f64,
}

/// The loss history: every step's row.
#[derive(Default)]
pub struct History {
    /// The rows, by step.
    pub rows: Vec<Row>,
}

impl History {
    const HEADER: &'static str = "step,train_loss,val_loss,grad_norm";

    /// One CSV line: 6 decimals for `loss.csv`, or every digit (`precise`) for the copy kept
    /// in the checkpoint, so a resumed run computes with exactly the values it had.
    fn line(r: &Row, precise: bool) -> String {
        let num = |v: f64| {
            if precise {
                format!("{v:?}")
            } else {
                format!("{v:.6}")
            }
        };
        let val = r.val_loss.map_or(String::new(), num);
        format!(
            "{},{},{val},{}\n",
            r.step,
            num(r.train_loss),
            num(r.grad_norm)
        )
    }

    fn csv(&self, precise: bool) -> String {
        let mut s = format!("{}\n", Self::HEADER);
        for r in &self.rows {
            s.push_str(&Self::line(r, precise));
        }
        s
    }

    /// Parses a history written by [`History::csv`] (or the older `step,train_loss,val_loss`),
    /// keeping the rows up to `upto`; they must be steps `1..=upto`, in order.
    fn parse(text: &str, upto: usize, source: &str) -> Result<Self, Error> {
        let bad = |line: usize, why: &str| -> Error {
            format!("{source}, line {line}: {why}; cannot restore the loss history").into()
        };
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
        let col = |name: &str| header.iter().position(|h| *h == name);
        let (Some(c_step), Some(c_train), Some(c_val)) =
            (col("step"), col("train_loss"), col("val_loss"))
        else {
            return Err(bad(
                1,
                "not a loss history (no step,train_loss,val_loss header)",
            ));
        };
        let c_norm = col("grad_norm");
        let mut rows = Vec::new();
        for (i, line) in lines.enumerate() {
            let f: Vec<&str> = line.split(',').collect();
            let num = |c: usize| -> Result<f64, Error> {
                f.get(c)
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| bad(i + 2, "unparseable row"))
            };
            let step: usize = f
                .get(c_step)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| bad(i + 2, "unparseable step"))?;
            if step > upto {
                break;
            }
            if step != rows.len() + 1 {
                return Err(bad(i + 2, &format!("expected step {}", rows.len() + 1)));
            }
            let val = match f.get(c_val) {
                Some(s) if !s.is_empty() => Some(num(c_val)?),
                _ => None,
            };
            rows.push(Row {
                step,
                train_loss: num(c_train)?,
                val_loss: val,
                grad_norm: c_norm.map_or(Ok(f64::NAN), num)?,
            });
        }
        if rows.len() != upto {
            return Err(format!(
                "{source} has {} of the {upto} steps of the checkpoint; cannot restore the loss history",
                rows.len()
            )
            .into());
        }
        Ok(History { rows })
    }

    /// `loss.svg`: the losses, and below them the pre-clip gradient norm per step (log
    /// scale) with the `clip` threshold (0: none) dashed, so the steps clipping changed show.
    fn svg(&self, clip: f64) -> String {
        let series = |label: &str, points, color, dashed| Series {
            label: label.into(),
            points,
            color,
            dashed,
        };
        let train = self
            .rows
            .iter()
            .map(|r| (r.step as f64, r.train_loss))
            .collect();
        let val = self
            .rows
            .iter()
            .filter_map(|r| r.val_loss.map(|v| (r.step as f64, v)))
            .collect();
        let loss = Chart {
            title: "char_rnn loss".into(),
            x_label: "step".into(),
            y_label: "nats/char".into(),
            y_log10: false,
            y_range: None,
            series: vec![
                series("train", train, PALETTE[0], false),
                series("validation", val, PALETTE[1], false),
            ],
        };
        // Histories from before the norm was logged hold NaN there: left out, not drawn.
        let norms: Vec<(f64, f64)> = self
            .rows
            .iter()
            .filter(|r| !r.grad_norm.is_nan())
            .map(|r| (r.step as f64, r.grad_norm.log10()))
            .collect();
        let mut grad = Chart {
            title: "gradient norm before clipping".into(),
            x_label: "step".into(),
            y_label: "‖g‖₂ (log scale)".into(),
            y_log10: true,
            y_range: None,
            series: Vec::new(),
        };
        if clip > 0.0
            && let (Some(first), Some(last)) = (self.rows.first(), self.rows.last())
        {
            let at = clip.log10();
            grad.series.push(series(
                &format!("clip {clip}"),
                vec![(first.step as f64, at), (last.step as f64, at)],
                PALETTE[3],
                true,
            ));
        }
        grad.series
            .insert(0, series("‖g‖ per step", norms, PALETTE[2], false));
        // Whole decades, so the log axis always has ticks at both ends.
        let (lo, hi) = grad
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .filter(|y| y.is_finite())
            .fold((f64::MAX, f64::MIN), |(a, b), y| (a.min(y), b.max(y)));
        if lo <= hi {
            grad.y_range = Some((lo.floor(), hi.ceil().max(lo.floor() + 1.0)));
        }
        grid(&[loss, grad], 1, 760.0, 380.0, "")
    }

    /// Mean training loss over the last `n` steps.
    pub fn recent_train_loss(&self, n: usize) -> f64 {
        let tail: Vec<f64> = self
            .rows
            .iter()
            .rev()
            .take(n)
            .map(|r| r.train_loss)
            .collect();
        tail.iter().sum::<f64>() / tail.len() as f64
    }
}

/// `loss.csv`, appended one row per step (so a kill loses nothing the checkpoint needs),
/// and rewritten whole from the history at the start of a run.
struct LossLog {
    path: PathBuf,
    file: File,
}

impl LossLog {
    /// Writes `history` to `dir/loss.csv` (atomically) and opens it for appending. This is
    /// also the check, before any training, that the output directory is writable.
    fn start(dir: &Path, history: &History) -> Result<Self, Error> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create the output directory {}: {e}", dir.display()))?;
        let path = dir.join("loss.csv");
        write_atomic(&path, history.csv(false).as_bytes())
            .map_err(|e| format!("the output directory is not writable: {e}"))?;
        let file = File::options()
            .append(true)
            .open(&path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        Ok(LossLog { path, file })
    }

    fn append(&mut self, row: &Row) -> Result<(), Error> {
        self.file
            .write_all(History::line(row, false).as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", self.path.display()).into())
    }

    /// Flushes the rows to disk (before a checkpoint that counts on them is written).
    fn sync(&self) -> Result<(), Error> {
        self.file
            .sync_data()
            .map_err(|e| format!("cannot sync {}: {e}", self.path.display()).into())
    }
}

/// Contiguous streams for truncated BPTT: stream `b` reads `train[b * len ..]` in order,
/// carrying the hidden state from one window to the next.
pub struct Streams {
    len: usize,
    pos: usize,
    state: Option<Tensor<f32>>,
}

impl Streams {
    fn new(train_len: usize, batch: usize) -> Self {
        Streams {
            len: train_len / batch,
            pos: 0,
            state: None,
        }
    }

    fn next(&mut self, train: &[usize], seq: usize, batch: usize) -> Batch {
        if self.pos.saturating_add(seq + 1) > self.len {
            self.pos = 0;
            self.state = None;
        }
        let starts: Vec<usize> = (0..batch).map(|b| b * self.len + self.pos).collect();
        self.pos += seq;
        windows(train, &starts, seq)
    }
}

/// What one training step gives.
pub struct StepReport {
    /// The loss before the update.
    pub loss: f64,
    /// Characters per second.
    pub chars_per_s: f64,
}

/// A char_rnn training run.
pub struct Trainer {
    settings: Settings,
    corpus: Corpus,
    model: CharModel,
    opt: Box<dyn Optimizer<f32>>,
    streams: Option<Streams>,
    /// Steps taken so far.
    pub step: usize,
    /// The loss history, one row per step.
    pub history: History,
    log: Option<LossLog>,
    elapsed_before: f64,
    started: Instant,
}

impl Trainer {
    /// A fresh run: the model initialised from the seed, step 0.
    pub fn new(settings: Settings, corpus: Corpus) -> Result<Self, Error> {
        let model = settings.model.build(corpus.vocab.len(), settings.seed)?;
        let opt = settings.optimizer()?;
        let streams = settings
            .tbptt
            .then(|| Streams::new(corpus.train.len(), settings.batch));
        Ok(Trainer {
            settings,
            corpus,
            model,
            opt,
            streams,
            step: 0,
            history: History::default(),
            log: None,
            elapsed_before: 0.0,
            started: Instant::now(),
        })
    }

    /// The model.
    pub fn model(&self) -> &CharModel {
        &self.model
    }

    /// The corpus.
    pub fn corpus(&self) -> &Corpus {
        &self.corpus
    }

    /// Seconds of training, across resumes.
    pub fn elapsed(&self) -> f64 {
        self.elapsed_before + self.started.elapsed().as_secs_f64()
    }

    fn checkpoint_path(&self) -> PathBuf {
        self.settings.out.join("checkpoint.safetensors")
    }

    /// Continues from a checkpoint written by [`Trainer::save`] (or by the format before it,
    /// whose hidden state was comma-joined metadata), refusing one with other settings, with
    /// missing optimizer or tbptt state, or with non-finite values.
    pub fn resume(&mut self, path: &Path) -> Result<(), Error> {
        crate::settings::regular_file(path, "--resume")?;
        // The settings first, for a clear message rather than a shape mismatch.
        let meta = read_metadata(path)?;
        self.settings.check_resume(path, &meta, &self.corpus)?;
        let (extra, meta) = load_training_state_with(path, &mut self.model, self.opt.as_mut())?;
        crate::settings::check_finite(path, &self.model)?;
        let step: usize = parse_meta(&meta, "step")?;
        let names = param_names("", &self.model);
        if step > 0 && self.settings.optim != "sgd" && self.opt.state_dict(&names).is_empty() {
            return Err(format!(
                "checkpoint {} is at step {step} but holds no optimizer state; resuming would not continue the run",
                path.display()
            )
            .into());
        }
        self.model
            .rnn
            .set_dropout_calls(parse_meta(&meta, "dropout_calls")?);
        if let Some(streams) = &mut self.streams {
            let pos: usize = parse_meta(&meta, "tbptt_pos")?;
            if pos > streams.len {
                return Err(format!(
                    "checkpoint {}: tbptt_pos {pos} is beyond the streams' length {}",
                    path.display(),
                    streams.len
                )
                .into());
            }
            streams.pos = pos;
            streams.state = tbptt_state(path, &meta, &extra, &self.settings)?;
            if step > 0 && streams.state.is_none() {
                return Err(format!(
                    "checkpoint {} is at step {step} of a --tbptt run but holds no tbptt state",
                    path.display()
                )
                .into());
            }
        }
        self.history = match meta.get("loss_history") {
            Some(csv) => History::parse(csv, step, &format!("checkpoint {}", path.display()))?,
            // Checkpoints from before the history was kept inside: read loss.csv.
            None => {
                let csv_path = self.settings.out.join("loss.csv");
                let text = std::fs::read_to_string(&csv_path).map_err(|e| {
                    format!(
                        "cannot read {} to restore the loss history: {e}",
                        csv_path.display()
                    )
                })?;
                History::parse(&text, step, &csv_path.display().to_string())?
            }
        };
        self.step = step;
        self.elapsed_before = meta
            .get("elapsed_s")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        Ok(())
    }

    /// Opens `loss.csv` for this run (rewritten from the history): the check that the output
    /// directory is writable, before any step is taken.
    pub fn start_log(&mut self) -> Result<(), Error> {
        self.log = Some(LossLog::start(&self.settings.out, &self.history)?);
        let ck = self.checkpoint_path();
        if std::fs::symlink_metadata(&ck).is_ok_and(|m| m.is_dir()) {
            return Err(format!("{} is a directory: cannot save there", ck.display()).into());
        }
        self.started = Instant::now();
        Ok(())
    }

    /// One training step: a batch, forward and backward, clipping, the update. A non-finite
    /// loss or gradient stops training with an error, before the parameters change.
    pub fn step(&mut self) -> Result<StepReport, Error> {
        let started = Instant::now();
        let s = &self.settings;
        let batch = match &mut self.streams {
            Some(streams) => streams.next(&self.corpus.train, s.seq, s.batch),
            None => random_windows(
                &self.corpus.train,
                s.seq,
                s.batch,
                &mut step_rng(s.seed, self.step, 0),
            ),
        };
        let h0 = self.streams.as_ref().and_then(|st| st.state.as_ref());
        // The tape lives only for forward and backward: dropped before the update, so the
        // optimizer updates parameters in place (no copy-on-write of values the tape holds).
        let (loss, h_n, mut grads) = {
            let tape = Tape::new();
            let (loss, h_n) = self.model.loss(&tape, &batch, s.seq, s.batch, h0)?;
            let grads = tape.backward(&loss)?;
            (loss.value().item()? as f64, h_n, grads)
        };
        // The pre-clip norm is logged either way; an infinite bound leaves the gradients as
        // they are.
        let max_norm = if s.clip > 0.0 { s.clip } else { f64::INFINITY };
        let grad_norm = clip_grad_norm(&mut grads, max_norm)?;
        let next = self.step + 1;
        if !loss.is_finite() || !grad_norm.is_finite() {
            return Err(format!(
                "step {next}: the training loss is {loss:.4e} and the gradient norm {grad_norm:.4e}: training diverged (try a lower --lr or a --clip). Stopped; the last checkpoint is kept"
            )
            .into());
        }
        self.opt.step_modules(&mut [&mut self.model], &grads)?;
        if let Some(streams) = &mut self.streams {
            streams.state = Some(h_n);
        }
        self.step = next;
        let row = Row {
            step: next,
            train_loss: loss,
            val_loss: None,
            grad_norm,
        };
        self.history.rows.push(row);
        Ok(StepReport {
            loss,
            chars_per_s: (s.seq * s.batch) as f64 / started.elapsed().as_secs_f64(),
        })
    }

    /// The validation loss (nats/char) and a sample of `len` characters, deterministic in
    /// the step. Recorded in the history's last row when `record`.
    pub fn evaluate(&mut self, len: usize, record: bool) -> Result<(f64, String), Error> {
        let v = self.model.eval_loss(&self.corpus.val)?;
        let s = &self.settings;
        let ids = self.model.sample(
            &[self.corpus.train[0]],
            len,
            s.temperature,
            s.top_k,
            &mut step_rng(s.seed, self.step, 1),
        )?;
        if record && let Some(last) = self.history.rows.last_mut() {
            last.val_loss = Some(v);
        }
        Ok((v, self.corpus.decode(&ids)))
    }

    /// Appends the last step's row to `loss.csv`, and rewrites `loss.svg` when it has a
    /// validation loss.
    pub fn log_step(&mut self) -> Result<(), Error> {
        let Some(row) = self.history.rows.last().copied() else {
            return Ok(());
        };
        if let Some(log) = &mut self.log {
            log.append(&row)?;
        }
        if row.val_loss.is_some() {
            self.write_chart()?;
        }
        Ok(())
    }

    /// Rewrites `loss.svg` from the history.
    pub fn write_chart(&self) -> Result<(), Error> {
        write_atomic(
            self.settings.out.join("loss.svg"),
            self.history.svg(self.settings.clip).as_bytes(),
        )?;
        Ok(())
    }

    /// Writes the checkpoint atomically: parameters, optimizer state, tbptt state, settings,
    /// step and history. Refuses to write non-finite parameters (a good checkpoint is never
    /// replaced by a diverged one).
    pub fn save(&self) -> Result<(), Error> {
        let path = self.checkpoint_path();
        crate::settings::check_finite(&path, &self.model)
            .map_err(|e| format!("not saving: {e}"))?;
        if let Some(log) = &self.log {
            log.sync()?;
        }
        let mut meta = self.settings.to_meta(&self.corpus);
        meta.insert("format".into(), FORMAT.into());
        meta.insert("step".into(), self.step.to_string());
        meta.insert("elapsed_s".into(), format!("{:.3}", self.elapsed()));
        meta.insert(
            "dropout_calls".into(),
            self.model.rnn.dropout_calls().to_string(),
        );
        meta.insert("loss_history".into(), self.history.csv(true));
        let mut extra = Vec::new();
        if let Some(streams) = &self.streams {
            meta.insert("tbptt_pos".into(), streams.pos.to_string());
            if let Some(state) = &streams.state {
                extra.push(("tbptt_state", state.clone()));
            }
        }
        save_training_state_with(&path, &self.model, self.opt.as_ref(), &extra, &meta)?;
        Ok(())
    }
}

/// The carried hidden state of a tbptt checkpoint: a tensor, or (format 1) comma-joined
/// numbers in the metadata. `None` if the checkpoint has none.
fn tbptt_state(
    path: &Path,
    meta: &BTreeMap<String, String>,
    extra: &Tensors<f32>,
    s: &Settings,
) -> Result<Option<Tensor<f32>>, Error> {
    let want = [s.model.layers, s.batch, s.model.state_width()];
    let state = if let Ok(t) = extra.get("tbptt_state") {
        t.clone()
    } else if let Some(text) = meta.get("tbptt_state") {
        let v: Result<Vec<f32>, _> = text.split(',').map(str::parse).collect();
        let v = v.map_err(|_| {
            format!(
                "checkpoint {}: tbptt_state is not a list of numbers",
                path.display()
            )
        })?;
        Tensor::from_vec(v, &want)
            .map_err(|e| format!("checkpoint {}: tbptt_state: {e}", path.display()))?
    } else {
        return Ok(None);
    };
    if state.dims() != want {
        return Err(format!(
            "checkpoint {}: tbptt_state has shape {}, expected {want:?}",
            path.display(),
            state.shape()
        )
        .into());
    }
    if state.to_vec().iter().any(|v| !v.is_finite()) {
        return Err(format!("checkpoint {}: tbptt_state is not finite", path.display()).into());
    }
    Ok(Some(state))
}

/// A metadata value parsed as `V`, or an error naming the key.
pub fn parse_meta<V: std::str::FromStr>(
    meta: &BTreeMap<String, String>,
    key: &str,
) -> Result<V, Error> {
    meta.get(key)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("checkpoint metadata has no valid {key:?}").into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The points of the polyline drawn in `color`.
    fn polyline_points(svg: &str, color: &str) -> usize {
        let tag = format!(r#"<polyline fill="none" stroke="{color}""#);
        let line = svg.lines().find(|l| l.starts_with(&tag)).unwrap();
        let pts = &line[line.find("points=\"").unwrap() + 8..];
        pts[..pts.find('"').unwrap()].split(' ').count()
    }

    #[test]
    fn the_chart_shows_the_gradient_norm_and_the_clip() {
        // Step 1 from an old history (no norm logged), then norms 1, 10, 100.
        let rows = (1..=4)
            .map(|step| Row {
                step,
                train_loss: 4.0 - 0.1 * step as f64,
                val_loss: (step == 4).then_some(3.9),
                grad_norm: if step == 1 {
                    f64::NAN
                } else {
                    10f64.powi(step as i32 - 2)
                },
            })
            .collect();
        let h = History { rows };
        let svg = h.svg(5.0);
        assert!(svg.contains("gradient norm before clipping"));
        // Three norms drawn (the NaN left out, not marked as an overflow), the clip dashed
        // across all four steps, on a log axis whose ticks read 1e0 .. 1e2.
        assert_eq!(polyline_points(&svg, PALETTE[2]), 3);
        assert!(!svg.contains("NaN</title>"));
        let clip = svg
            .lines()
            .find(|l| l.contains(PALETTE[3]) && l.contains("stroke-dasharray"))
            .unwrap();
        assert!(clip.starts_with("<polyline") && svg.contains(">clip 5</text>"));
        assert!(svg.contains(">1e0</text>") && svg.contains(">1e2</text>"));
        // No clipping: no threshold line.
        assert!(!h.svg(0.0).contains(">clip"));
    }
}
