//! The frame every chart is drawn in: a title strip at the top and a
//! legend strip (as many rows as it needs) at the bottom.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::line_style::{LineLook, legend_sample, marker_at};
use super::style::{label_font, title_font};

/// Width in pixels a legend entry takes: mark, gap, text, spacing.
fn legend_entry_width(name: &str) -> i32 {
    MARK_WIDTH + 9 * name.chars().count() as i32 + 28
}

/// Pixels a legend entry's mark and the gap after it take.
const MARK_WIDTH: i32 = 34;

/// Rows the legend needs at `width` pixels.
pub(super) fn legend_rows(
    legend: &[(String, RGBColor, LegendMark)],
    width: i32,
) -> Vec<Vec<usize>> {
    let mut rows: Vec<Vec<usize>> = Vec::new();
    let mut x = 0;
    for (i, (name, _, _)) in legend.iter().enumerate() {
        let w = legend_entry_width(name);
        match rows.last_mut() {
            Some(row) if x + w <= width => row.push(i),
            _ => {
                rows.push(vec![i]);
                x = 0;
            }
        }
        x += w;
    }
    rows
}

/// Splits off a title strip at the top and a legend strip (as many rows as
/// it needs) at the bottom, returning the middle.
pub(super) fn frame<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    legend: &[(String, RGBColor, LegendMark)],
) -> Result<DrawingArea<DB, Shift>, DrawingAreaErrorKind<DB::ErrorType>> {
    let (top, rest) = root.split_vertically(44);
    top.draw_text(title, &title_font(), (16, 12))?;
    let (width, height) = rest.dim_in_pixel();
    let rows = legend_rows(legend, width as i32 - 100);
    let legend_height = 12 + 26 * rows.len() as u32;
    let (middle, bottom) = rest.split_vertically(height.saturating_sub(legend_height));
    for (r, row) in rows.iter().enumerate() {
        let y = 6 + 26 * r as i32;
        let mut x = 70i32;
        for &i in row {
            let (name, color, mark) = &legend[i];
            match mark {
                LegendMark::Box => {
                    bottom.draw(&Rectangle::new([(x, y), (x + 16, y + 16)], color.filled()))?
                }
                LegendMark::Look(look) => legend_sample(&bottom, (x, y + 8), *look)?,
                LegendMark::Point(look) => marker_at(&bottom, (x + 14, y + 8), *look, 11)?,
                LegendMark::Dashed => {
                    for dash in [x, x + 8, x + 16] {
                        bottom.draw(&PathElement::new(
                            vec![(dash, y + 8), (dash + 5, y + 8)],
                            color.stroke_width(2),
                        ))?;
                    }
                }
            }
            bottom.draw_text(name, &label_font(), (x + MARK_WIDTH, y))?;
            x += legend_entry_width(name);
        }
    }
    Ok(middle)
}

/// How a legend entry is marked.
#[derive(Clone, Copy, Debug)]
pub(super) enum LegendMark {
    /// A filled square: a bar's colour.
    Box,
    /// A dashed line.
    Dashed,
    /// A line with its dash pattern and marker.
    Look(LineLook),
    /// A marker alone.
    Point(LineLook),
}

/// The height of a chart of the usual size whose legend (at the usual
/// width) needs `legend`'s rows: 26 pixels more for each beyond two.
pub(super) fn height_for_legend(legend: &[(String, RGBColor, LegendMark)]) -> u32 {
    let rows = legend_rows(legend, 1100 - 100).len() as u32;
    620 + 26 * rows.saturating_sub(2)
}
