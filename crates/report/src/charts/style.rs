//! The fonts and colors every chart shares: a byte class or a transport has
//! the same color in every chart, and every text is drawn in the embedded
//! DejaVu Sans.

use std::sync::OnceLock;

use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use pushbench_protocol::{ByteClass, RunResult, Transport};

use super::line_style::{Dash, LineLook, Marker};
use crate::error::ReportError;

/// The font family every chart asks for; [`register_fonts`] backs it with
/// DejaVu Sans, embedded, so charts render the same on a bare machine.
pub const FONT: &str = "sans-serif";

/// Registers the embedded DejaVu Sans (regular and bold) under [`FONT`];
/// once per process, later calls return the first outcome.
pub fn register_fonts() -> Result<(), ReportError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).is_ok()
            && register_font(FONT, FontStyle::Bold, dejavu::sans::bold()).is_ok()
    });
    if ok { Ok(()) } else { Err(ReportError::Font) }
}

/// The color of a byte class, the same in every chart.
pub fn class_color(class: ByteClass) -> RGBColor {
    match class {
        ByteClass::Handshake => RGBColor(148, 103, 189),
        ByteClass::RequestHeaders => RGBColor(214, 39, 40),
        ByteClass::ResponseHeaders => RGBColor(255, 127, 14),
        ByteClass::Framing => RGBColor(31, 119, 180),
        ByteClass::Payload => RGBColor(44, 160, 44),
        ByteClass::Control => RGBColor(127, 127, 127),
        ByteClass::H2Frames => RGBColor(140, 86, 75),
        // Teal between framing's blue and payload's green: it is both.
        ByteClass::Compressed => RGBColor(23, 160, 140),
        ByteClass::TlsHandshake => RGBColor(23, 190, 207),
        ByteClass::TlsRecords => RGBColor(188, 189, 34),
    }
}

/// The color of a transport, the same in every chart.
pub fn transport_color(transport: Transport) -> RGBColor {
    match transport {
        Transport::ShortPoll => RGBColor(214, 39, 40),
        Transport::LongPoll => RGBColor(255, 127, 14),
        Transport::Stream => RGBColor(31, 119, 180),
        Transport::Sse => RGBColor(44, 160, 44),
        Transport::Ws => RGBColor(148, 103, 189),
    }
}

pub(super) fn title_font() -> TextStyle<'static> {
    (FONT, 24).into_font().style(FontStyle::Bold).into()
}

pub(super) fn label_font() -> TextStyle<'static> {
    (FONT, 15).into_font().into()
}

pub(super) fn small_font() -> TextStyle<'static> {
    (FONT, 13).into_font().into()
}

/// The marker of a transport on the line charts that mark their points,
/// the same in every chart.
pub(super) fn transport_marker(transport: Transport) -> Marker {
    match transport {
        Transport::ShortPoll => Marker::Square,
        Transport::LongPoll => Marker::Triangle,
        Transport::Stream => Marker::Diamond,
        Transport::Sse => Marker::Circle,
        Transport::Ws => Marker::Cross,
    }
}

/// The look of the `rank`th line of `transport` (its second client count,
/// say): the transport's colour, a dash pattern per rank, a lighter or
/// darker shade once the patterns run out; with the transport's marker
/// when `marked`.
pub(super) fn transport_look(transport: Transport, rank: usize, marked: bool) -> LineLook {
    LineLook {
        color: shade(transport_color(transport), rank / Dash::ALL.len()),
        dash: Dash::nth(rank),
        marker: if marked {
            transport_marker(transport)
        } else {
            Marker::None
        },
    }
}

/// The look of phase `phase`'s line: its transport's, by how many phases
/// of the same transport came before it (see [`transport_look`]).
pub(super) fn phase_look(result: &RunResult, phase: usize) -> LineLook {
    let Some(this) = result.phases.get(phase) else {
        return LineLook::solid(BLACK);
    };
    let rank = result.phases[..phase]
        .iter()
        .filter(|p| p.transport == this.transport)
        .count();
    transport_look(this.transport, rank, false)
}

/// The color of phase `phase` of `result`: its transport's color, lighter
/// or darker for a second or third phase of the same transport so that
/// sweeps stay apart.
pub(super) fn phase_color(result: &RunResult, phase: usize) -> RGBColor {
    let Some(this) = result.phases.get(phase) else {
        return BLACK;
    };
    let rank = result.phases[..phase]
        .iter()
        .filter(|p| p.transport == this.transport)
        .count();
    shade(transport_color(this.transport), rank)
}

/// `base` for rank 0, then lighter, darker, lighter still.
pub(super) fn shade(base: RGBColor, rank: usize) -> RGBColor {
    let RGBColor(r, g, b) = base;
    let lerp =
        |c: u8, to: u8, t: f64| (f64::from(c) + (f64::from(to) - f64::from(c)) * t).round() as u8;
    let toward = |to: u8, t: f64| RGBColor(lerp(r, to, t), lerp(g, to, t), lerp(b, to, t));
    match rank % 4 {
        0 => base,
        1 => toward(255, 0.45),
        2 => toward(0, 0.45),
        _ => toward(255, 0.7),
    }
}

/// The color of the classic model's reference lines.
pub(super) const CLASSIC_GREY: RGBColor = RGBColor(60, 60, 60);
