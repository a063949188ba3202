//! The passphrase policy of a new vault passphrase: one rule for the CLI
//! (`init`, `passwd`) and the desktop app (first run), so neither can accept
//! what the other refuses.
//!
//! A passphrase is accepted when it has at least [`MIN_CHARS`] characters
//! and the zxcvbn estimate (Dropbox's guess-count model, the maintained
//! `zxcvbn` crate, no network) puts it at [`MIN_SCORE`] or above: more than
//! 10^8 guesses. The vault's scrypt makes each guess cost about a second of
//! a laptop's CPU, so that is years for one attacker's machine; a weaker
//! passphrase falls to a dictionary run in days. Words tied to the
//! person or the app (their name, "fieldcase") count as guessable.
//!
//! The policy applies to passphrases *chosen* now. Unlocking never checks it:
//! a vault made before the policy still opens.

use std::fmt;

/// Fewest characters (Unicode scalar values) a passphrase may have.
pub const MIN_CHARS: usize = 12;

/// Lowest zxcvbn score accepted (0–4; 3 means more than 10^8 estimated
/// guesses).
pub const MIN_SCORE: u8 = 3;

/// zxcvbn's running time grows with the length; past this many characters a
/// passphrase is judged on its first ones (a longer one is not weaker).
const MAX_ESTIMATED_CHARS: usize = 100;

/// Words that make a passphrase guessable whoever chooses it.
const APP_WORDS: &[&str] = &["fieldcase", "vault", "passphrase", "password", "unicef", "child", "protection"];

/// How strong a passphrase is, as the screens show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Strength {
    /// Fewer than [`MIN_CHARS`] characters: refused.
    TooShort,
    /// Guessable (zxcvbn score below [`MIN_SCORE`]): refused.
    Weak,
    /// Accepted (score 3).
    Fair,
    /// Accepted (score 4: more than 10^10 guesses).
    Strong,
}

impl Strength {
    /// The name the UI and JSON use (`too_short`, `weak`, `fair`, `strong`).
    pub fn as_str(self) -> &'static str {
        match self {
            Strength::TooShort => "too_short",
            Strength::Weak => "weak",
            Strength::Fair => "fair",
            Strength::Strong => "strong",
        }
    }
}

/// The verdict on one passphrase.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Verdict {
    /// The strength class.
    pub strength: Strength,
    /// zxcvbn's score, 0–4 (0 when too short to be estimated).
    pub score: u8,
    /// What is wrong, in English, when zxcvbn can tell (e.g. "A word by
    /// itself is easy to guess.").
    pub warning: Option<String>,
    /// How to make it stronger, in English: zxcvbn's suggestions, or the
    /// policy's own when it has none.
    pub suggestions: Vec<String>,
}

impl Verdict {
    /// Whether a new vault (or a passphrase change) may use it.
    pub fn is_acceptable(&self) -> bool {
        matches!(self.strength, Strength::Fair | Strength::Strong)
    }

    /// `Ok` when acceptable, else the refusal with what to do about it.
    pub fn into_result(self) -> Result<Verdict, WeakPassphrase> {
        if self.is_acceptable() {
            Ok(self)
        } else {
            Err(WeakPassphrase(self))
        }
    }
}

/// A passphrase the policy refuses; its message says why and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct WeakPassphrase(pub Verdict);

impl fmt::Display for WeakPassphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = &self.0;
        match v.strength {
            Strength::TooShort => write!(f, "the passphrase is too short: it needs at least {MIN_CHARS} characters")?,
            _ => write!(f, "the passphrase is too easy to guess")?,
        }
        if let Some(w) = &v.warning {
            write!(f, " ({})", w.trim_end_matches('.').to_lowercase())?;
        }
        write!(f, ". ")?;
        let advice: Vec<&str> = v.suggestions.iter().map(|s| s.as_str()).collect();
        write!(f, "{}", advice.join(" "))
    }
}

/// The policy's own advice, always given with a refusal.
const ADVICE: &str = "Use four or more unrelated words (e.g. from different places in a book); \
                      avoid names, dates, places and well-known phrases.";

/// Judge `passphrase`. `personal` are words tied to the person choosing it
/// (their name, the device name): a passphrase built from them is weak.
pub fn check(passphrase: &str, personal: &[&str]) -> Verdict {
    let chars = passphrase.chars().count();
    if chars < MIN_CHARS {
        return Verdict {
            strength: Strength::TooShort,
            score: 0,
            warning: None,
            suggestions: vec![format!("Add {} more characters.", MIN_CHARS - chars), ADVICE.to_string()],
        };
    }
    let estimated: String = passphrase.chars().take(MAX_ESTIMATED_CHARS).collect();
    // Each personal input and its words: zxcvbn matches user inputs as
    // whole dictionary entries, so "Amina Diallo" must also give "amina".
    let mut inputs: Vec<String> = APP_WORDS.iter().map(|w| w.to_string()).collect();
    for p in personal {
        let p = p.trim().to_lowercase();
        inputs.extend(p.split(|c: char| !c.is_alphanumeric()).filter(|w| w.chars().count() >= 3).map(str::to_string));
        if !p.is_empty() {
            inputs.push(p);
        }
    }
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let entropy = zxcvbn::zxcvbn(&estimated, &inputs);
    let score = u8::from(entropy.score());
    let strength = match score {
        s if s < MIN_SCORE => Strength::Weak,
        3 => Strength::Fair,
        _ => Strength::Strong,
    };
    let (warning, mut suggestions) = match entropy.feedback() {
        Some(fb) => (fb.warning().map(|w| w.to_string()), fb.suggestions().iter().map(|s| s.to_string()).collect()),
        None => (None, Vec::new()),
    };
    if strength == Strength::Weak {
        suggestions.push(ADVICE.to_string());
    }
    Verdict { strength, score, warning, suggestions }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_passphrases_are_refused_with_the_number_of_characters_missing() {
        assert_ne!(check("horse staple", &[]).strength, Strength::TooShort, "12 characters are enough to be judged");
        let v = check("tiny", &[]);
        assert_eq!(v.strength, Strength::TooShort);
        assert!(!v.is_acceptable());
        let msg = v.into_result().unwrap_err().to_string();
        assert!(msg.contains("at least 12 characters"), "{msg}");
        assert!(msg.contains("Add 8 more characters"), "{msg}");
        // Characters, not bytes: 12 Arabic letters are long enough.
        assert_ne!(check("كلمةسرطويلةج", &[]).strength, Strength::TooShort);
        assert_eq!(check("كلمةسرطويل", &[]).strength, Strength::TooShort);
    }

    #[test]
    fn long_but_guessable_passphrases_are_refused_and_say_how_to_fix_them() {
        for weak in ["password1234", "aaaaaaaaaaaaaaaa", "qwertyuiopasdf", "123456789012", "abcdefghijklmnop"] {
            let v = check(weak, &[]);
            assert_eq!(v.strength, Strength::Weak, "{weak}: {v:?}");
            let msg = v.into_result().unwrap_err().to_string();
            assert!(msg.starts_with("the passphrase is too easy to guess"), "{msg}");
            assert!(msg.contains("four or more unrelated words"), "{msg}");
        }
    }

    #[test]
    fn the_persons_own_name_and_the_apps_name_do_not_count_as_secret() {
        let name = "Mariama Oumarou";
        let pass = "mariamaoumarou";
        assert!(check(pass, &[]).score > check(pass, &[name]).score, "the name lowers the estimate");
        assert!(!check(pass, &[name]).is_acceptable());
        assert!(!check("diallodiallo", &["Awa Diallo"]).is_acceptable(), "a repeated name is refused");
        assert!(!check("fieldcasevault", &[]).is_acceptable());
    }

    #[test]
    fn several_unrelated_words_are_accepted() {
        for good in ["correct horse battery staple", "tamarind lantern okapi drizzle", "rivière sable 7 chameaux bleus"]
        {
            let v = check(good, &["Awa Diallo"]);
            assert!(v.is_acceptable(), "{good}: {v:?}");
            assert!(v.into_result().is_ok());
        }
        assert_eq!(check("correct horse battery staple", &[]).strength, Strength::Strong);
        // The demo vault's passphrase (Makefile, README): public, but it must pass like any other.
        assert!(check("fieldcase demo only", &["Demo device"]).is_acceptable());
    }

    #[test]
    fn very_long_passphrases_are_judged_quickly_on_their_start() {
        let long = "tamarind lantern okapi drizzle ".repeat(200);
        let v = check(&long, &[]);
        assert!(v.is_acceptable());
    }
}
