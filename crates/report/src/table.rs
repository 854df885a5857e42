//! A plain table rendered three ways: aligned text for the terminal,
//! Markdown for `report.md` and HTML for `report.html`.
//!
//! Written by hand on purpose: a table crate would replace only the text
//! rendering (about 45 lines). comfy-table draws its header rule across
//! the column gaps, so the terminal tables would change; its Markdown
//! preset (and tabled's) pads every cell, which would change `report.md`;
//! neither renders HTML. That is three crates for 30 fewer lines.

use std::fmt::Write as _;

/// How a column's cells line up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    /// Text: names and labels.
    Left,
    /// Numbers, so that digits line up.
    Right,
}

/// Rows of cells under a header line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Table {
    /// Column titles.
    pub headers: Vec<String>,
    /// Alignment per column; missing entries are [`Align::Right`].
    pub align: Vec<Align>,
    /// The cells, row by row.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column titles; the first column is left aligned,
    /// the others right aligned.
    pub fn new<S: Into<String>>(headers: impl IntoIterator<Item = S>) -> Self {
        let headers: Vec<String> = headers.into_iter().map(Into::into).collect();
        let align = (0..headers.len())
            .map(|i| if i == 0 { Align::Left } else { Align::Right })
            .collect();
        Table {
            headers,
            align,
            rows: Vec::new(),
        }
    }

    /// Appends one row.
    pub fn push<S: Into<String>>(&mut self, row: impl IntoIterator<Item = S>) {
        self.rows.push(row.into_iter().map(Into::into).collect());
    }

    fn align_of(&self, column: usize) -> Align {
        self.align.get(column).copied().unwrap_or(Align::Right)
    }

    /// Aligned plain text, two spaces between columns, a rule under the header.
    pub fn to_text(&self) -> String {
        let columns = self
            .rows
            .iter()
            .map(Vec::len)
            .chain([self.headers.len()])
            .max()
            .unwrap_or(0);
        let mut widths = vec![0; columns];
        for row in self.rows.iter().chain([&self.headers]) {
            for (i, cell) in row.iter().enumerate() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let line = |cells: &[String], out: &mut String| {
            let mut text = String::new();
            for (i, width) in widths.iter().enumerate() {
                let cell = cells.get(i).map(String::as_str).unwrap_or("");
                if i > 0 {
                    text.push_str("  ");
                }
                let pad = width - cell.chars().count();
                match self.align_of(i) {
                    Align::Left => {
                        text.push_str(cell);
                        text.extend(std::iter::repeat_n(' ', pad));
                    }
                    Align::Right => {
                        text.extend(std::iter::repeat_n(' ', pad));
                        text.push_str(cell);
                    }
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        };
        line(&self.headers, &mut out);
        let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
        line(&rule, &mut out);
        for row in &self.rows {
            line(row, &mut out);
        }
        out
    }

    /// A GitHub-flavoured Markdown table.
    pub fn to_markdown(&self) -> String {
        let escape = |cell: &str| cell.replace('|', "\\|");
        let mut out = String::new();
        let _ = writeln!(
            out,
            "| {} |",
            self.headers
                .iter()
                .map(|h| escape(h))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        let rule: Vec<&str> = (0..self.headers.len())
            .map(|i| match self.align_of(i) {
                Align::Left => ":---",
                Align::Right => "---:",
            })
            .collect();
        let _ = writeln!(out, "| {} |", rule.join(" | "));
        for row in &self.rows {
            let _ = writeln!(
                out,
                "| {} |",
                row.iter()
                    .map(|c| escape(c))
                    .collect::<Vec<_>>()
                    .join(" | ")
            );
        }
        out
    }

    /// An HTML `<table>`, every cell escaped.
    pub fn to_html(&self) -> String {
        let mut out = String::from("<table>\n<thead><tr>");
        for header in &self.headers {
            let _ = write!(out, "<th>{}</th>", escape_html(header));
        }
        out.push_str("</tr></thead>\n<tbody>\n");
        for row in &self.rows {
            out.push_str("<tr>");
            for (i, cell) in row.iter().enumerate() {
                let class = match self.align_of(i) {
                    Align::Left => "l",
                    Align::Right => "r",
                };
                let _ = write!(out, "<td class=\"{class}\">{}</td>", escape_html(cell));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody>\n</table>\n");
        out
    }
}

/// Escapes `&`, `<`, `>` and `"` for HTML text and attributes.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_columns_line_up() {
        let mut table = Table::new(["name", "bytes"]);
        table.push(["ws", "2"]);
        table.push(["short-poll", "871"]);
        assert_eq!(
            table.to_text(),
            "name        bytes\n\
             ----------  -----\n\
             ws              2\n\
             short-poll    871\n"
        );
    }

    #[test]
    fn markdown_and_html_escape_their_specials() {
        let mut table = Table::new(["a|b", "<c>"]);
        table.push(["x", "1 & 2"]);
        assert!(
            table
                .to_markdown()
                .starts_with("| a\\|b | <c> |\n| :--- | ---: |\n")
        );
        let html = table.to_html();
        assert!(html.contains("<th>&lt;c&gt;</th>"));
        assert!(html.contains("<td class=\"r\">1 &amp; 2</td>"));
    }
}
