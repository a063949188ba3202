//! The request for a partner without Fieldcase as a PDF to print
//! (docs/bundle-format.md §11.4, "By hand"): the same text as the printed
//! request, on A4 pages, the plaintext notice in bold at the head of every
//! page so that no page leaves without it.
//!
//! The text is set in Helvetica, one of the fonts every PDF reader has, in
//! its WinAnsi encoding: no font file is embedded, so the PDF stays small
//! and the crate needs no font data. That encoding covers Latin scripts
//! (French, the accented names of West Africa) but not Arabic, Ge'ez or
//! others; a request holding such text is refused with the character named
//! rather than printed with holes in a child's name — print the text
//! version instead.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

use crate::sync::partner_request::PLAINTEXT_NOTICE;

/// Why a request could not be set as PDF.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PdfError {
    /// A character the standard PDF font cannot show.
    #[error(
        "the request holds {0:?} (U+{code:04X}), which the PDF's standard font cannot print; print the text version of the request instead",
        code = u32::from(*.0)
    )]
    Unprintable(char),
}

// The failure's stable code for the interfaces (crate::codes).
crate::error_codes! { PdfError {
    PdfError::Unprintable(c) => "pdf_unprintable" { character = c };
} }

const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 56.0;
const SIZE: f32 = 10.0;
const LEADING: f32 = 13.0;
/// Characters per line: Helvetica at 10 pt averages about 5 pt a
/// character, and the text block is 483 pt wide; a little under, so that a
/// line of wide letters still fits.
const WRAP: usize = 88;

/// Windows-1252 (PDF's WinAnsiEncoding) for one character.
fn win_ansi(c: char) -> Result<u8, PdfError> {
    let code = u32::from(c);
    let byte = match c {
        ' '..='~' => code as u8,
        '\u{a0}'..='\u{ff}' => code as u8,
        '€' => 0x80,
        '‚' => 0x82,
        'ƒ' => 0x83,
        '„' => 0x84,
        '…' => 0x85,
        '†' => 0x86,
        '‡' => 0x87,
        'ˆ' => 0x88,
        '‰' => 0x89,
        'Š' => 0x8a,
        '‹' => 0x8b,
        'Œ' => 0x8c,
        'Ž' => 0x8e,
        '‘' => 0x91,
        '’' => 0x92,
        '“' => 0x93,
        '”' => 0x94,
        '•' => 0x95,
        '–' => 0x96,
        '—' => 0x97,
        '˜' => 0x98,
        '™' => 0x99,
        'š' => 0x9a,
        '›' => 0x9b,
        'œ' => 0x9c,
        'ž' => 0x9e,
        'Ÿ' => 0x9f,
        '\t' => b' ',
        _ => return Err(PdfError::Unprintable(c)),
    };
    Ok(byte)
}

fn encode(line: &str) -> Result<Vec<u8>, PdfError> {
    line.chars().map(win_ansi).collect()
}

/// Cut a line at spaces so that each piece has at most `width` characters
/// (a longer word is cut where it must be).
fn wrap(line: &str, width: usize) -> Vec<String> {
    // Value lines are indented: keep it, and indent their continuation more.
    let indent: String = line.chars().take_while(|c| *c == ' ').collect();
    let width = width.saturating_sub(indent.len() + 2).max(8);
    let mut out = Vec::new();
    let mut cur = String::new();
    for word in line.trim_start_matches(' ').split(' ') {
        let mut word = word.to_string();
        loop {
            let have = cur.chars().count();
            let need = word.chars().count() + usize::from(have > 0);
            if have + need <= width {
                if have > 0 {
                    cur.push(' ');
                }
                cur.push_str(&word);
                break;
            }
            if have > 0 {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            let cut: String = word.chars().take(width).collect();
            word = word.chars().skip(width).collect();
            out.push(cut);
            if word.is_empty() {
                break;
            }
        }
    }
    if !cur.is_empty() || out.is_empty() {
        out.push(cur);
    }
    out.into_iter()
        .enumerate()
        .map(|(i, l)| if i == 0 { format!("{indent}{l}") } else { format!("{indent}  {l}") })
        .collect()
}

/// The printed request `text` (as `partner_request::send` returns it) as a
/// PDF: every page headed by the plaintext notice, then the request's lines
/// (its own copy of the notice left out), and "page n of N" at the foot.
pub fn request_pdf(text: &str) -> Result<Vec<u8>, PdfError> {
    let body = text.strip_prefix(PLAINTEXT_NOTICE).unwrap_or(text).trim_start_matches('\n');
    let notice: Vec<Vec<u8>> = wrap(PLAINTEXT_NOTICE, WRAP - 8).iter().map(|l| encode(l)).collect::<Result<_, _>>()?;
    let mut lines = Vec::new();
    for line in body.lines() {
        for piece in wrap(line, WRAP) {
            lines.push(encode(&piece)?);
        }
    }
    // The notice's box and a blank line, then the body, then the footer.
    let head = (notice.len() as f32 + 1.5) * LEADING + 12.0;
    let per_page = (((PAGE_H - 2.0 * MARGIN - head - 2.0 * LEADING) / LEADING) as usize).max(1);
    let pages: Vec<&[Vec<u8>]> = if lines.is_empty() { vec![&[][..]] } else { lines.chunks(per_page).collect() };

    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let regular = Ref::new(3);
    let bold = Ref::new(4);
    let first_page = 5;
    let page_ref = |i: usize| Ref::new(first_page + 2 * i as i32);
    let content_ref = |i: usize| Ref::new(first_page + 2 * i as i32 + 1);

    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids((0..pages.len()).map(page_ref)).count(pages.len() as i32);
    pdf.type1_font(regular).base_font(Name(b"Helvetica")).encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.type1_font(bold).base_font(Name(b"Helvetica-Bold")).encoding_predefined(Name(b"WinAnsiEncoding"));
    for (i, page_lines) in pages.iter().enumerate() {
        let mut page = pdf.page(page_ref(i));
        page.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H)).parent(tree).contents(content_ref(i));
        page.resources().fonts().pair(Name(b"F1"), regular).pair(Name(b"F2"), bold);
        page.finish();

        let mut c = Content::new();
        let top = PAGE_H - MARGIN;
        let box_h = notice.len() as f32 * LEADING + 10.0;
        c.set_line_width(1.5);
        c.rect(MARGIN - 6.0, top - box_h + 4.0, PAGE_W - 2.0 * MARGIN + 12.0, box_h);
        c.stroke();
        c.begin_text();
        c.set_font(Name(b"F2"), SIZE);
        c.set_leading(LEADING);
        c.next_line(MARGIN, top - LEADING + 2.0);
        for l in &notice {
            c.show(Str(l));
            c.next_line_using_leading();
        }
        c.set_font(Name(b"F1"), SIZE);
        c.next_line_using_leading();
        for l in page_lines.iter() {
            c.show(Str(l));
            c.next_line_using_leading();
        }
        c.end_text();
        let footer = format!("page {} of {}", i + 1, pages.len());
        c.begin_text();
        c.set_font(Name(b"F1"), 8.0);
        c.next_line(MARGIN, MARGIN - 20.0);
        c.show(Str(footer.as_bytes()));
        c.end_text();
        pdf.stream(content_ref(i), &c.finish());
    }
    Ok(pdf.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_spaces_and_cuts_long_words() {
        assert_eq!(wrap("a bb ccc dddd", 10), ["a bb ccc", "  dddd"]);
        assert_eq!(wrap("abcdefghijklmnopq", 10), ["abcdefgh", "  ijklmnop", "  q"]);
        assert_eq!(wrap("", 10), [""]);
        assert_eq!(wrap("  k: one two three", 14), ["  k: one two", "    three"]);
    }

    #[test]
    fn latin_text_is_encoded_and_other_scripts_refused() {
        assert_eq!(encode("Aïcha – Ndiaye").unwrap(), b"A\xefcha \x96 Ndiaye");
        assert_eq!(encode("أمينة"), Err(PdfError::Unprintable('أ')));
        assert!(PdfError::Unprintable('ሰ').to_string().contains("U+1230"));
    }

    #[test]
    fn every_page_carries_the_notice() {
        let mut text = format!("{PLAINTEXT_NOTICE}\n\nRequest 1\n");
        for i in 0..150 {
            text.push_str(&format!("  line {i}: Aminata Traoré\n"));
        }
        let pdf = request_pdf(&text).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        let s = String::from_utf8_lossy(&pdf);
        let pages = s.matches("/Type /Page").count() - s.matches("/Type /Pages").count();
        assert!(pages >= 3, "150 lines take several pages ({pages})");
        let notices = s.matches("(CONFIDENTIAL - PLAIN TEXT").count();
        assert_eq!(notices, pages, "the notice heads every page");
        assert!(s.contains("(page 3 of "), "the pages are numbered");
        // Text with a byte beyond ASCII is written in hex.
        let last = format!("<{}> Tj", hex::encode_upper(encode("  line 149: Aminata Traoré").unwrap()));
        assert!(s.contains(&last), "the last line is printed");
    }
}
