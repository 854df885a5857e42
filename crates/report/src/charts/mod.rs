//! The charts, drawn once per backend: every chart is a [`Chart`] whose
//! `draw` is generic over plotters' `DrawingBackend`, and [`render`] runs it
//! on the SVG and the PNG backend so both files show the same picture.
//!
//! Colors are fixed per byte class and per transport, so a class or a
//! transport has the same color in every chart.
//!
//! # Layout
//! - `render`: the [`Chart`] trait and [`render`].
//! - `style`: the embedded font ([`register_fonts`]), the text styles and
//!   the colors ([`class_color`], [`transport_color`], a phase's shade).
//! - `frame`: the title strip and the legend every chart is drawn in.
//! - `bar_axes`: the horizontal bar chart (a category per bar) that
//!   `bytes_per_event`, `overhead`, `classic_argument`, `peers` and `servers`
//!   build on.
//! - `line_style`: a line's colour, dash pattern and marker, drawn alike
//!   in the plot and the legend, so that lines of one colour can still be
//!   told apart.
//! - `line_axes`: what the line charts share: at most [`MAX_LINES`] series,
//!   log bounds, axis labels and the chart with two value axes that
//!   `latency_percentiles`, `latency_vs_rate`, `bandwidth_vs_clients` and
//!   `capacity` build on.
//! - One file per chart: [`BytesPerEvent`], [`Overhead`],
//!   [`ClassicArgument`], [`LatencyDistribution`], [`BandwidthVsClients`],
//!   [`LatencyVsRate`], [`CapacityChart`], [`PeersChart`] (also the
//!   ratios of `pushbench servers`), [`ServersChart`] (a technique across
//!   servers); and for runs
//!   over emulated links, drawn from [`crate::link_points`]:
//!   [`LatencyVsRtt`], [`SetupRoundTrips`], [`BytesVsLoss`].

mod bandwidth_vs_clients;
mod bar_axes;
mod bytes_per_event;
mod bytes_vs_loss;
mod capacity_chart;
mod classic_argument;
mod frame;
mod latency_distribution;
mod latency_vs_rate;
mod latency_vs_rtt;
mod line_axes;
mod line_style;
mod overhead;
mod peers_chart;
mod render;
mod servers_chart;
mod setup_round_trips;
mod style;

pub use bandwidth_vs_clients::BandwidthVsClients;
pub use bytes_per_event::BytesPerEvent;
pub use bytes_vs_loss::BytesVsLoss;
pub use capacity_chart::CapacityChart;
pub use classic_argument::{ClassicArgument, LOG_SPAN};
pub use latency_distribution::LatencyDistribution;
pub use latency_vs_rate::LatencyVsRate;
pub use latency_vs_rtt::LatencyVsRtt;
pub use line_axes::MAX_LINES;
pub use overhead::Overhead;
pub use peers_chart::PeersChart;
pub use render::{Chart, render};
pub use servers_chart::ServersChart;
pub use setup_round_trips::SetupRoundTrips;
pub use style::{FONT, class_color, register_fonts, transport_color};
