//! `classic_argument`: the header bytes and all bytes per event of polling
//! against SSE and WebSocket, per variant.

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

use pushbench_protocol::{RunResult, Transport};

use super::bar_axes::{BarFrame, bar_chart};
use super::frame::{LegendMark, frame};
use super::line_axes::log_bounds;
use super::render::{Chart, DrawResult};
use super::style::{CLASSIC_GREY, label_font, small_font, transport_color};
use crate::figures::{CLASSIC_TRANSPORTS, ClassicBar, ClassicGroup, classic_groups};
use crate::model::CLASSIC_HEADER_BYTES;
use crate::number_format::format_decimal;
use crate::variant_labels::varying_in;

/// The classic argument, measured: per variant (HTTP/1.1 or HTTP/2,
/// plaintext or TLS, identity or a content coding, minimal or browser
/// headers), the header bytes (left) and all bytes (right) per delivered
/// event of short and long polling against SSE and WebSocket, one row of
/// bars per variant; a panel whose values span more than [`LOG_SPAN`] is
/// drawn on a log axis.
#[derive(Debug)]
pub struct ClassicArgument {
    groups: Vec<ClassicGroup>,
    transports: Vec<Transport>,
    /// The chart's title, from the dimensions the run varied.
    title: String,
}

/// The largest ratio of a panel's largest to its smallest positive value
/// that a linear axis shows well: beyond it the small bars (an HPACK-coded
/// head, a WebSocket frame) would be invisible slivers beside an
/// HTTP/1.1 browser head.
pub const LOG_SPAN: f64 = 30.0;

/// Which figure of a bar a panel of [`ClassicArgument`] draws.
type BarPick = fn(&ClassicBar) -> f64;

impl ClassicArgument {
    /// The chart for `result`, or `None` when the run measured none of the
    /// transports the argument compares (or they delivered nothing).
    pub fn new(result: &RunResult) -> Option<Self> {
        let varied: Vec<&str> = varying_in(result).iter().map(|d| d.column).collect();
        let mut groups: Vec<ClassicGroup> = classic_groups(result)
            .into_iter()
            .filter(|g| !g.bars.is_empty())
            .collect();
        // One variant and one load: the group needs no name, and the
        // variant's full name ("h1 plain keep-alive identity minimal") would only
        // suggest there were others.
        if let [single] = groups.as_mut_slice()
            && varied.is_empty()
        {
            single.label = "this run".to_owned();
        }
        let transports: Vec<Transport> = CLASSIC_TRANSPORTS
            .into_iter()
            .filter(|t| groups.iter().any(|g| g.bar(*t).is_some()))
            .collect();
        (!groups.is_empty()).then_some(ClassicArgument {
            groups,
            transports,
            title: classic_title(&varied),
        })
    }

    /// The group labels, top to bottom.
    pub fn labels(&self) -> Vec<String> {
        self.groups.iter().map(|g| g.label.clone()).collect()
    }

    /// Whether the panel of `pick` is drawn on a log axis.
    fn is_log(&self, pick: BarPick) -> bool {
        let values = self.groups.iter().flat_map(|g| g.bars.iter().map(pick));
        let (lo, hi) = values
            .filter(|v| *v > 0.0)
            .fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
        lo.is_finite() && hi / lo > LOG_SPAN
    }
}

impl Chart for ClassicArgument {
    fn stem(&self) -> &'static str {
        "classic_argument"
    }

    fn size(&self) -> (u32, u32) {
        let rows = self.groups.len() * self.transports.len().max(1);
        (
            1200,
            (260 + 22 * rows as u32 + 18 * self.groups.len() as u32).max(620),
        )
    }

    fn caption(&self) -> String {
        let scale = |log: bool| if log { "log scale" } else { "linear" };
        format!(
            "How much of the classic argument (a poll costs hundreds of header bytes, a \
             WebSocket frame two) survives what this run varied: per variant, the \
             request + response header bytes per delivered event (left, {}; over HTTP/2 the \
             HPACK blocks) and all bytes per delivered event (right, {}) of short and long \
             polling against SSE and WebSocket, both directions; the dashed line is the \
             classic 871 header bytes per poll. SSE and WebSocket pay their heads once per \
             connection, outside the measured window (the setup column of the tables). \
             WebSocket frames are not content-coded: a gzip or br row shows the same \
             variant's WebSocket at identity.",
            scale(self.is_log(|b| b.header_bytes)),
            scale(self.is_log(|b| b.bytes))
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let legend: Vec<_> = self
            .transports
            .iter()
            .map(|&t| (t.name().to_owned(), transport_color(t), LegendMark::Box))
            .chain([(
                "classic: 871 B of headers per poll".to_owned(),
                CLASSIC_GREY,
                LegendMark::Dashed,
            )])
            .collect();
        let body = frame(root, &self.title, &legend)?;
        let panels = body.split_evenly((1, 2));
        let specs: [(&str, BarPick, Option<f64>); 2] = [
            (
                "request + response header bytes per event",
                |b| b.header_bytes,
                Some(CLASSIC_HEADER_BYTES as f64),
            ),
            ("all bytes per event", |b| b.bytes, None),
        ];
        for (panel, (title, pick, reference)) in panels.iter().zip(specs) {
            let values = self
                .groups
                .iter()
                .flat_map(|g| g.bars.iter().map(pick))
                .chain(reference);
            if self.is_log(pick) {
                let (lo, hi) = log_bounds(values);
                let x = (lo..hi).log_scale();
                self.panel(panel, title, x, lo, pick, reference)?;
            } else {
                let hi = values.fold(1.0, f64::max) * 1.18;
                self.panel(panel, title, 0f64..hi, 0.0, pick, reference)?;
            }
        }
        Ok(())
    }
}

/// The title of the classic argument's chart for a run that varied the
/// dimensions named by `varied` (their columns: `http`, `tls`, `coding`,
/// `headers`): what the run compared, and no more.
fn classic_title(varied: &[&str]) -> String {
    let names: Vec<&str> = varied
        .iter()
        .filter_map(|column| match *column {
            "http" => Some("HTTP versions"),
            "tls" => Some("TLS"),
            "coding" => Some("content codings"),
            "headers" => Some("header profiles"),
            _ => None,
        })
        .collect();
    match names.as_slice() {
        [] => "The classic argument, measured".to_owned(),
        [one] => format!("The classic argument across {one}"),
        [rest @ .., last] => format!("The classic argument across {} and {last}", rest.join(", ")),
    }
}

impl ClassicArgument {
    /// The chart's title.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// One panel: a row per group, in it a bar per transport, the value at
    /// each bar's end, the classic reference as a dashed line.
    fn panel<DB: DrawingBackend, X>(
        &self,
        area: &DrawingArea<DB, Shift>,
        title: &str,
        x: X,
        base: f64,
        pick: BarPick,
        reference: Option<f64>,
    ) -> DrawResult<DB>
    where
        X: AsRangedCoord<Value = f64>,
        X::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
    {
        let labels = self.labels();
        let n = self.groups.len().max(1);
        let mut chart = bar_chart(
            area,
            &BarFrame {
                caption: Some(title),
                margin_right: 40,
                labels: &labels,
                label_style: label_font(),
                x_desc: "bytes per delivered event, both directions",
                x_format: &|b| format_decimal(*b),
            },
            x,
        )?;
        let slots = self.transports.len().max(1) as f64;
        let height = 0.8 / slots;
        for (i, group) in self.groups.iter().enumerate() {
            for (k, transport) in self.transports.iter().enumerate() {
                let Some(bar) = group.bar(*transport) else {
                    continue;
                };
                let value = pick(bar);
                let top = i as f64 - 0.4 + height * k as f64;
                let (y0, y1) = (top + height * 0.1, top + height * 0.9);
                if value > base {
                    chart.draw_series(std::iter::once(Rectangle::new(
                        [(base, y0), (value, y1)],
                        transport_color(*transport).filled(),
                    )))?;
                }
                chart.draw_series(std::iter::once(Text::new(
                    format!("{value:.0}"),
                    (value.max(base) * 1.01 + 1e-9, y0),
                    small_font(),
                )))?;
            }
        }
        if let Some(r) = reference {
            chart.draw_series(DashedLineSeries::new(
                [(r, -0.5), (r, n as f64 - 0.5)],
                8,
                6,
                CLASSIC_GREY.stroke_width(2),
            ))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::classic_title;

    #[test]
    fn the_title_names_what_the_run_varied_and_nothing_else() {
        assert_eq!(classic_title(&[]), "The classic argument, measured");
        assert_eq!(
            classic_title(&["headers"]),
            "The classic argument across header profiles"
        );
        assert_eq!(
            classic_title(&["http", "tls", "coding"]),
            "The classic argument across HTTP versions, TLS and content codings"
        );
    }
}
