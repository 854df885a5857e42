//! How a line is told apart from its neighbours when colour alone is not
//! enough: a dash pattern and a marker shape beside its colour, drawn the
//! same in the plot and in the legend.

use plotters::coord::CoordTranslate;
use plotters::prelude::*;

use super::render::DrawResult;

/// A line's dash pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Dash {
    Solid,
    /// Long dashes.
    Dashed,
    /// Short dashes close together.
    Dotted,
    /// Long dashes far apart.
    Sparse,
}

impl Dash {
    /// The dash patterns in the order sibling lines take them.
    pub(super) const ALL: [Dash; 4] = [Dash::Solid, Dash::Dashed, Dash::Dotted, Dash::Sparse];

    /// The `rank`th pattern, cycling.
    pub(super) fn nth(rank: usize) -> Dash {
        Dash::ALL[rank % Dash::ALL.len()]
    }

    /// Dash and gap lengths in pixels, `None` for a solid line.
    fn pattern(self) -> Option<(u32, u32)> {
        match self {
            Dash::Solid => None,
            Dash::Dashed => Some((12, 6)),
            Dash::Dotted => Some((3, 4)),
            Dash::Sparse => Some((8, 12)),
        }
    }
}

/// A marker drawn on a line's points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Marker {
    None,
    Circle,
    /// A circle's outline.
    Ring,
    Square,
    Triangle,
    Diamond,
    Cross,
}

/// A line's colour, dash pattern and marker.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct LineLook {
    pub(super) color: RGBColor,
    pub(super) dash: Dash,
    pub(super) marker: Marker,
}

impl LineLook {
    /// A solid line of `color` without markers.
    pub(super) fn solid(color: RGBColor) -> Self {
        LineLook {
            color,
            dash: Dash::Solid,
            marker: Marker::None,
        }
    }
}

/// Draws a polyline through `points` (in `chart`'s coordinates) in
/// `look`'s colour and dash pattern, `width` pixels wide.
pub(super) fn draw_line<DB, CT>(
    chart: &mut ChartContext<'_, DB, CT>,
    points: Vec<(f64, f64)>,
    look: LineLook,
    width: u32,
) -> DrawResult<DB>
where
    DB: DrawingBackend,
    CT: CoordTranslate<From = (f64, f64)>,
{
    let style = look.color.stroke_width(width);
    match look.dash.pattern() {
        None => {
            chart.draw_series(LineSeries::new(points, style))?;
        }
        Some((dash, gap)) => {
            chart.draw_series(DashedLineSeries::new(points, dash, gap, style))?;
        }
    }
    Ok(())
}

/// Draws `look`'s marker, `size` pixels across, at each of `points`.
pub(super) fn draw_markers<DB, CT>(
    chart: &mut ChartContext<'_, DB, CT>,
    points: &[(f64, f64)],
    look: LineLook,
    size: i32,
) -> DrawResult<DB>
where
    DB: DrawingBackend,
    CT: CoordTranslate<From = (f64, f64)>,
{
    // Markers are drawn in backend pixels, so that their shape does not
    // stretch with the axes.
    let root = chart.plotting_area().use_screen_coord();
    let at: Vec<(i32, i32)> = points
        .iter()
        .map(|p| chart.plotting_area().map_coordinate(p))
        .collect();
    for pixel in at {
        marker_at(&root, pixel, look, size)?;
    }
    Ok(())
}

/// Draws `look`'s marker centred on `pixel` of `area`.
pub(super) fn marker_at<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    (x, y): (i32, i32),
    look: LineLook,
    size: i32,
) -> DrawResult<DB> {
    let r = size / 2;
    let fill = look.color.filled();
    match look.marker {
        Marker::None => {}
        Marker::Circle => area.draw(&Circle::new((x, y), r, fill))?,
        Marker::Ring => area.draw(&Circle::new((x, y), r, look.color.stroke_width(2)))?,
        Marker::Square => area.draw(&Rectangle::new([(x - r, y - r), (x + r, y + r)], fill))?,
        Marker::Triangle => area.draw(&Polygon::new(
            vec![(x, y - r - 1), (x - r - 1, y + r), (x + r + 1, y + r)],
            fill,
        ))?,
        Marker::Diamond => area.draw(&Polygon::new(
            vec![
                (x, y - r - 1),
                (x + r + 1, y),
                (x, y + r + 1),
                (x - r - 1, y),
            ],
            fill,
        ))?,
        Marker::Cross => {
            let stroke = look.color.stroke_width(3);
            area.draw(&PathElement::new(
                vec![(x - r, y - r), (x + r, y + r)],
                stroke,
            ))?;
            area.draw(&PathElement::new(
                vec![(x - r, y + r), (x + r, y - r)],
                stroke,
            ))?;
        }
    }
    Ok(())
}

/// Draws `look` as a legend entry: a 28-pixel stretch of its line from
/// `(x, y)` with its marker in the middle.
pub(super) fn legend_sample<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    (x, y): (i32, i32),
    look: LineLook,
) -> DrawResult<DB> {
    let style = look.color.stroke_width(3);
    match look.dash.pattern() {
        None => area.draw(&PathElement::new(vec![(x, y), (x + 28, y)], style))?,
        Some((dash, gap)) => {
            let (dash, gap) = (dash.min(9) as i32, gap.min(6) as i32);
            let mut at = x;
            while at < x + 28 {
                area.draw(&PathElement::new(
                    vec![(at, y), ((at + dash).min(x + 28), y)],
                    style,
                ))?;
                at += dash + gap;
            }
        }
    }
    marker_at(area, (x + 14, y), look, 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sibling_lines_take_distinct_dashes_then_cycle() {
        let first: Vec<Dash> = (0..4).map(Dash::nth).collect();
        assert_eq!(first, Dash::ALL);
        assert_eq!(Dash::nth(4), Dash::Solid);
        assert_eq!(Dash::Solid.pattern(), None);
        assert!(Dash::ALL[1..].iter().all(|d| d.pattern().is_some()));
    }
}
