//! Ge'ez (Ethiopic) script to Latin letters, for name keys only.
//!
//! The syllabary is laid out in rows of eight code points from U+1200: one
//! row per consonant, one column per vowel order (1st ä, 2nd u, 3rd i, 4th
//! a, 5th e, 6th ə or no vowel, 7th o, 8th wa). A syllable is transliterated
//! as the row's consonant followed by the column's vowel, using the
//! spellings Ethiopian and Eritrean names commonly take in Latin documents
//! (1st order as `e`: ገብረ → `gebre`; 6th order as no vowel: ሃይለ →
//! `hayle`), so the result lands on the same consonant skeleton as the
//! Latin spellings. Consonants that merged in Amharic and Tigrinya
//! pronunciation (ሀ/ሐ/ኀ, ሰ/ሠ, ጸ/ፀ) share one letter. The table is data:
//! [`ROWS`] and [`VOWELS`]; see docs/search.md.

/// Consonant of each row of eight, by the row's first code point. Rows
/// whose consonant is the glottal stop or the ayn (አ, ዐ) carry only their
/// vowel ([`GLOTTAL_VOWELS`]). Labialised rows (ቈ, ኈ, ኰ, ጐ) are irregular
/// and are read as consonant + `wa`.
pub const ROWS: &[(u32, &str)] = &[
    (0x1200, "h"),
    (0x1208, "l"),
    (0x1210, "h"),
    (0x1218, "m"),
    (0x1220, "s"),
    (0x1228, "r"),
    (0x1230, "s"),
    (0x1238, "sh"),
    (0x1240, "q"),
    (0x1248, "qw"),
    (0x1250, "q"),
    (0x1258, "qw"),
    (0x1260, "b"),
    (0x1268, "v"),
    (0x1270, "t"),
    (0x1278, "ch"),
    (0x1280, "h"),
    (0x1288, "hw"),
    (0x1290, "n"),
    (0x1298, "ny"),
    (0x12A0, ""),
    (0x12A8, "k"),
    (0x12B0, "kw"),
    (0x12B8, "kh"),
    (0x12C0, "khw"),
    (0x12C8, "w"),
    (0x12D0, ""),
    (0x12D8, "z"),
    (0x12E0, "zh"),
    (0x12E8, "y"),
    (0x12F0, "d"),
    (0x12F8, "d"),
    (0x1300, "j"),
    (0x1308, "g"),
    (0x1310, "gw"),
    (0x1318, "g"),
    (0x1320, "t"),
    (0x1328, "ch"),
    (0x1330, "p"),
    (0x1338, "ts"),
    (0x1340, "ts"),
    (0x1348, "f"),
    (0x1350, "p"),
];

/// Vowel of each order (column) after a consonant.
pub const VOWELS: [&str; 8] = ["e", "u", "i", "a", "e", "", "o", "wa"];

/// Vowel of each order of the glottal-stop and ayn rows (አ ኡ ኢ ኣ ኤ እ ኦ ኧ):
/// the 1st order is written `a` (አበበ → `abebe`), the 6th `i` (እያሱ → `iyasu`).
pub const GLOTTAL_VOWELS: [&str; 8] = ["a", "u", "i", "a", "e", "i", "o", "wa"];

/// Append the Latin reading of `c` to `out` when it is a Ge'ez syllable;
/// Ethiopic punctuation and numerals become a space. False for anything
/// else (the caller folds it).
pub fn push(c: char, out: &mut String) -> bool {
    let cp = c as u32;
    if !(0x1200..=0x137F).contains(&cp) {
        return false;
    }
    if cp >= 0x1360 {
        // Wordspace, full stop, comma…, numerals: separators in a name.
        out.push(' ');
        return true;
    }
    let row = cp & !7;
    let order = (cp & 7) as usize;
    let Some((_, consonant)) = ROWS.iter().find(|(start, _)| *start == row) else {
        // Rows not in the table (rare extensions): no letter.
        return true;
    };
    if consonant.is_empty() {
        out.push_str(GLOTTAL_VOWELS[order]);
    } else if consonant.ends_with('w') && consonant.len() > 1 {
        out.push_str(&consonant[..consonant.len() - 1]);
        out.push_str("wa");
    } else {
        out.push_str(consonant);
        out.push_str(VOWELS[order]);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn latin(s: &str) -> String {
        let mut out = String::new();
        for c in s.chars() {
            assert!(push(c, &mut out), "{c} is Ge'ez");
        }
        out
    }

    #[test]
    fn names_read_as_their_common_latin_spelling() {
        assert_eq!(latin("ገብረ"), "gebre");
        assert_eq!(latin("ሃይለ"), "hayle");
        assert_eq!(latin("ወልደ"), "welde");
        assert_eq!(latin("ተስፋዬ"), "tesfaye");
        assert_eq!(latin("ማርያም"), "maryam");
        assert_eq!(latin("አበበ"), "abebe");
        assert_eq!(latin("ዳዊት"), "dawit");
        assert!(!push('a', &mut String::new()));
    }
}
