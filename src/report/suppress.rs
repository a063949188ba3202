//! Small-cell suppression (docs/reports.md: cells under 5 children are withheld).
//!
//! Primary: a cell is withheld when any count it shows (numerator,
//! denominator, n) is between 1 and `THRESHOLD - 1`. Zero is shown: it
//! identifies no child.
//!
//! Complementary (against back-calculation): within one breakdown the cells
//! add up to the total, so if the total is shown and exactly one cell is
//! withheld, the shown cell with the smallest non-zero `n` is withheld too.
//! Two withheld cells then only reveal their sum, which is itself ≥ 5
//! whenever the total is shown (the total − the shown cells).
//!
//! Differencing across dimensions (e.g. sex × office) is not protected: the
//! report never crosses two dimensions, which is the usual safeguard.
use super::{Cell, IndicatorResult, Measure, Suppression};

/// Cells with 1 to `THRESHOLD - 1` children are withheld.
pub const THRESHOLD: u64 = 5;

fn small(v: Option<u64>) -> bool {
    matches!(v, Some(n) if n > 0 && n < THRESHOLD)
}

/// A ratio's denominator counts caseworkers, not children: only its `n`
/// (cases) is checked.
fn primary(cell: &Cell, measure: Measure) -> bool {
    match measure {
        Measure::Ratio => small(cell.n),
        _ => small(cell.n) || small(cell.numerator) || small(cell.denominator),
    }
}

fn withhold(cell: &mut Cell, why: Suppression) {
    cell.value = None;
    cell.numerator = None;
    cell.denominator = None;
    cell.n = None;
    cell.suppressed = Some(why);
}

/// Suppress the small cells of one indicator in place.
pub(crate) fn apply(ind: &mut IndicatorResult) {
    let measure = ind.measure;
    let total_withheld = primary(&ind.total, measure);
    if total_withheld {
        withhold(&mut ind.total, Suppression::SmallCell);
    }
    for b in &mut ind.breakdowns {
        let mut withheld = 0;
        for cell in &mut b.cells {
            if primary(cell, measure) {
                withhold(cell, Suppression::SmallCell);
                withheld += 1;
            }
        }
        if withheld == 1 && !total_withheld {
            let candidate = b
                .cells
                .iter_mut()
                .filter(|c| c.suppressed.is_none() && c.n.unwrap_or(0) > 0)
                .min_by_key(|c| c.n.unwrap_or(0));
            if let Some(c) = candidate {
                withhold(c, Suppression::Complementary);
            }
        }
    }
}
