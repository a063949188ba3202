//! Compound names and particles: the same name written as one word or two.
//!
//! Arabic `Abd al-Rahim` / `Abdel Rahim` / `Abdelrahim`, `Ben Youssef` /
//! `Benyoussef`, Ethiopian and Eritrean `Wolde Michael` / `Woldemichael`,
//! `Haile Selassie` / `Haileselassie`, `Tesfa Mariam` / `Tesfamariam`: each
//! is cut into the same *units*, a particle (normalised to its class:
//! `abd`, `gebre`, …) and the rest, whichever way it was written. The tables
//! below are data; docs/search.md lists the rules.

/// One class of particles: how it is written standing alone, how it is
/// written joined to the next name, and how long what follows a joined
/// particle must be for the word to be cut (`Tesfaye` is a name, not
/// `Tesfa` + `ye`).
pub struct Particle {
    /// Canonical spelling (the unit's text).
    pub class: &'static str,
    /// Spellings as a word of their own (folded).
    pub alone: &'static [&'static str],
    /// Spellings at the start of a joined word, longest first.
    pub joined: &'static [&'static str],
    /// Letters the rest of a joined word needs at least.
    pub min_rest: usize,
    /// Whether the rest of a joined word must start with a consonant (`al`:
    /// `Alhassan` is cut, `Alimou` is not).
    pub rest_consonant: bool,
}

/// Particle classes. `Abd` absorbs a following article (`Abd al-Rahim`,
/// `Abdel Rahim`, `Abdul Rahim`, `Abdirahim`, Somali `Cabdiraxiim`);
/// `Ben`/`Bin`/`Ibn` (son of), Mauritanian `Ould`, Tuareg `Ag`; Ethiopian
/// and Eritrean `Gebre`/`Ghebre`/`Gebrä` (servant of), `Wolde`/`Weldu`
/// (son of), `Haile` (power of), `Tesfa` (hope of).
pub const PARTICLES: &[Particle] = &[
    Particle {
        class: "abd",
        alone: &[
            "abd", "abdel", "abdal", "abdul", "abdoul", "abdou", "abdu", "abdi", "abde", "abdil", "cabd", "cabdi",
            "cabdul",
        ],
        joined: &[
            "cabdul", "abdoul", "cabdi", "abdel", "abdal", "abdul", "abdil", "abdou", "cabd", "abdi", "abdu", "abde",
            "abd",
        ],
        min_rest: 3,
        rest_consonant: false,
    },
    Particle {
        class: "abu",
        alone: &["abu", "abou", "abuu"],
        joined: &["abou", "abu"],
        min_rest: 3,
        rest_consonant: false,
    },
    Particle { class: "al", alone: &["al", "el", "ul"], joined: &["al", "el"], min_rest: 4, rest_consonant: true },
    Particle {
        class: "bin",
        alone: &["ben", "bin", "ibn", "bn", "ibnu"],
        joined: &["ben", "bin", "ibn"],
        min_rest: 3,
        rest_consonant: false,
    },
    Particle {
        class: "ould",
        alone: &["ould", "ouled", "wuld", "wald", "old"],
        joined: &["ouled", "ould"],
        min_rest: 3,
        rest_consonant: false,
    },
    Particle { class: "ag", alone: &["ag"], joined: &["ag"], min_rest: 4, rest_consonant: false },
    Particle {
        class: "gebre",
        alone: &["gebre", "ghebre", "gebra", "gabre", "gabra", "gebr", "ghebr", "gebray", "gebrey", "gebri"],
        joined: &["ghebre", "gebre", "gebra", "gabre", "gabra", "ghebr", "gebr"],
        min_rest: 3,
        rest_consonant: false,
    },
    Particle {
        class: "wolde",
        alone: &["wolde", "welde", "weldu", "woldu", "walda", "wolda", "welda", "wold", "weld", "welday"],
        joined: &["wolde", "welde", "walda", "wolda", "welda", "woldu", "weldu", "wold", "weld"],
        min_rest: 3,
        rest_consonant: false,
    },
    Particle {
        class: "haile",
        alone: &["haile", "hayle", "haila", "xayle"],
        joined: &["haile", "hayle", "haila"],
        min_rest: 3,
        rest_consonant: false,
    },
    Particle { class: "tesfa", alone: &["tesfa", "tesfai"], joined: &["tesfa"], min_rest: 3, rest_consonant: false },
];

/// Names that end a compound and are cut off a joined word
/// (`Kidanemariam` = `Kidane Mariam`); the unit keeps the first spelling.
/// `-ullah` (Afghan and Pakistani names: `Rahmatullah` = `Rahmat Ullah` =
/// `Rahmatollah`) is one too; names of the family table (`Abdullah`) are
/// never cut.
pub const SUFFIXES: &[&[&str]] = &[&["mariam", "maryam", "mariyam"], &["ullah", "ollah", "ulla", "allah"]];

/// Articles assimilated to a following sun letter (`Ar-Rashid`, `As-Sayed`,
/// `Ad-Din`): read as `al` when the next word starts with the letter named.
pub const SUN_ARTICLES: &[(&str, char)] = &[
    ("ar", 'r'),
    ("er", 'r'),
    ("as", 's'),
    ("es", 's'),
    ("ash", 's'),
    ("ad", 'd'),
    ("ed", 'd'),
    ("an", 'n'),
    ("en", 'n'),
    ("at", 't'),
    ("et", 't'),
    ("az", 'z'),
    ("ez", 'z'),
];

/// The particle class of a word standing alone.
pub fn alone(word: &str) -> Option<&'static Particle> {
    PARTICLES.iter().find(|p| p.alone.contains(&word))
}

/// Whether `word` followed by `next` is an assimilated article (`ar rashid`).
pub fn sun_article(word: &str, next: &str) -> bool {
    SUN_ARTICLES.iter().any(|(a, c)| *a == word && next.starts_with(*c))
}

fn is_vowel(c: char) -> bool {
    matches!(c, 'a' | 'e' | 'i' | 'o' | 'u' | 'y')
}

/// A joined word cut after its particle: (class, rest), the longest
/// particle spelling first.
pub fn split_prefix(word: &str) -> Option<(&'static Particle, &str)> {
    let mut best: Option<(&'static Particle, &str)> = None;
    for p in PARTICLES {
        for j in p.joined {
            let Some(rest) = word.strip_prefix(j) else { continue };
            let ok = rest.chars().count() >= p.min_rest
                && rest.chars().all(|c| c.is_ascii_alphabetic())
                && !(p.rest_consonant && rest.starts_with(is_vowel));
            if ok && best.is_none_or(|(_, r)| rest.len() < r.len()) {
                best = Some((p, rest));
            }
        }
    }
    best
}

/// A joined word cut before a compound-ending name: (first part, suffix
/// unit).
pub fn split_suffix(word: &str) -> Option<(&str, &'static str)> {
    for s in SUFFIXES {
        for spelling in *s {
            if let Some(first) = word.strip_suffix(spelling) {
                if first.chars().count() >= 3 {
                    return Some((first, s[0]));
                }
            }
        }
    }
    None
}

/// After `Abd`/`Abu`, an article joined to the name is dropped
/// (`Abd Alrahim` → `rahim`), as it is when written apart.
pub fn strip_article(word: &str) -> &str {
    for a in ["al", "el", "ul", "ar", "ur", "er", "as", "ad", "an", "at", "az"] {
        if let Some(rest) = word.strip_prefix(a) {
            // After a sun article the name starts with its letter
            // (`arrahman`); after `al` it may start with anything.
            let article = matches!(a, "al" | "el" | "ul");
            if rest.chars().count() >= 3 && (article || !rest.starts_with(is_vowel)) {
                return rest;
            }
        }
    }
    word
}
