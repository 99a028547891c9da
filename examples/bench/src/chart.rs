//! The SVG chart of a run (plotters' SVG backend: text is left to the viewer's fonts, so no
//! font files are read): one horizontal bar per server and case, its length the throughput
//! relative to that case's loopwire reference (1.0 marked), labelled with the case, the
//! server, the ratio and the ops/s.

use std::path::Path;

use plotters::prelude::*;

use crate::Error;
use crate::report::Row;

/// Pixels per bar.
const ROW_PX: u32 = 22;

/// A plotters error as ours.
fn err(e: impl std::fmt::Display) -> Error {
    Error::msg(format!("cannot draw the chart: {e}"))
}

/// Writes the chart of `rows` to `path`, titled `title`.
///
/// # Errors
/// When the file cannot be written.
pub fn write(path: &Path, title: &str, rows: &[Row]) -> Result<(), Error> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
    }
    let n = rows.len().max(1);
    let height = 80 + ROW_PX * u32::try_from(n).unwrap_or(u32::MAX / ROW_PX / 2);
    let root = SVGBackend::new(path, (900, height)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let max = rows.iter().map(|r| r.ratio).fold(1.0f64, f64::max);
    let x_max = max * 1.9;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(25)
        .y_label_area_size(10)
        .build_cartesian_2d(0.0..x_max, 0.0..n as f64)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_desc("ops/s ÷ loopwire's, same case")
        .draw()
        .map_err(err)?;
    let palette = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
    ];
    let mut case = "";
    let mut k = 0;
    for (i, r) in rows.iter().enumerate() {
        if r.case != case {
            case = &r.case;
            k = 0;
        }
        let color = palette[k % palette.len()];
        k += 1;
        // Bar i from the top.
        let y = (n - 1 - i) as f64;
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(0.0, y + 0.15), (r.ratio, y + 0.85)],
                color.filled(),
            )))
            .map_err(err)?;
        let label = format!(
            "{} · {}: {:.2} ({:.0} ops/s)",
            r.case, r.server, r.ratio, r.ops_per_sec
        );
        chart
            .draw_series(std::iter::once(Text::new(
                label,
                (r.ratio + x_max * 0.01, y + 0.7),
                ("sans-serif", 12),
            )))
            .map_err(err)?;
    }
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(1.0, 0.0), (1.0, n as f64)],
            BLACK.stroke_width(1),
        )))
        .map_err(err)?;
    root.present().map_err(err)
}
