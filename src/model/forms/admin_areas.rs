//! Administrative areas: the country configuration's hierarchy of places
//! (country › region › district) with codes and labels in the interface
//! languages, so that where a child is now is picked from a list — and can be
//! filtered and reported by — instead of typed as free text.
//!
//! The list is data (`assets/config/admin_areas.json`, format in
//! `docs/configuration.md`); the form registry turns it into the value list
//! `admin_area`, whose options are the area codes and whose labels are the
//! whole path ("Niger / Agadez region / Arlit"), so the form renderer shows
//! it like any other list.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{is_snake_case, Labels, OptionDef, ValueList};

/// Name of the value list the areas become in the form registry.
pub const ADMIN_AREA_LIST: &str = "admin_area";

/// Level of an area in the hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AreaLevel {
    /// A country: the root of a hierarchy.
    Country,
    /// First administrative level (region, governorate, state).
    Region,
    /// Second level (district, commune, municipality).
    District,
}

impl AreaLevel {
    /// The level an area's parent must have (`None` for a country).
    fn parent_level(self) -> Option<AreaLevel> {
        match self {
            AreaLevel::Country => None,
            AreaLevel::Region => Some(AreaLevel::Country),
            AreaLevel::District => Some(AreaLevel::Region),
        }
    }
}

/// One administrative area.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminArea {
    /// Stable machine code stored in case records (snake_case, unique).
    pub code: String,
    /// The area it is part of; absent for a country.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Its level.
    pub level: AreaLevel,
    /// Its own name (not the path) in the interface languages.
    pub labels: Labels,
    /// Demo/operation corridors a country belongs to (report breakdowns).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub corridors: Vec<String>,
    /// Left out of a later configuration: kept so records that hold the
    /// code keep its labels, no longer offered (docs/configuration.md §0).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retired: bool,
}

/// The whole list, checked: codes unique, every parent in the list, no
/// cycle, each parent exactly one level up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminAreas {
    /// Format version of the file.
    pub version: u32,
    /// The areas, parents before children, in display order.
    pub areas: Vec<AdminArea>,
}

/// Why an areas file was refused: the file and what to fix.
#[derive(Debug, thiserror::Error)]
pub enum AdminAreasError {
    /// Not JSON, or not the format of docs/configuration.md.
    #[error("administrative areas file is malformed: {0}")]
    Malformed(#[source] serde_json::Error),
    /// A rule of the format is broken; the message names the area.
    #[error("administrative areas file: {0}")]
    Invalid(String),
}

impl AdminAreas {
    /// Parse and check an areas file.
    pub fn parse(text: &str) -> Result<AdminAreas, AdminAreasError> {
        let areas: AdminAreas = serde_json::from_str(text).map_err(AdminAreasError::Malformed)?;
        if areas.version != 1 {
            return Err(AdminAreasError::Invalid(format!("version {} is not supported (only 1)", areas.version)));
        }
        areas.check()?;
        Ok(areas)
    }

    /// Check the rules of docs/configuration.md §1: codes unique and
    /// snake_case, labels present, every parent in the list (anywhere), no
    /// cycle, levels one step apart, corridors only on a country.
    pub fn check(&self) -> Result<(), AdminAreasError> {
        let mut by_code: BTreeMap<&str, &AdminArea> = BTreeMap::new();
        for a in &self.areas {
            let bad = |why: String| AdminAreasError::Invalid(format!("area {:?}: {why}", a.code));
            if !is_snake_case(&a.code) {
                return Err(bad("the code must be lower-case snake_case".into()));
            }
            if by_code.insert(&a.code, a).is_some() {
                return Err(bad("the code is used twice".into()));
            }
            for (lang, text) in [("en", &a.labels.en), ("fr", &a.labels.fr), ("ar", &a.labels.ar)] {
                if text.trim().is_empty() {
                    return Err(bad(format!("the {lang} label is empty")));
                }
            }
            if !a.corridors.is_empty() && a.level != AreaLevel::Country {
                return Err(bad("only a country names its corridors".into()));
            }
        }
        for a in &self.areas {
            let bad = |why: String| AdminAreasError::Invalid(format!("area {:?}: {why}", a.code));
            // Walk up: a chain longer than the list came back on itself.
            let mut next = a.parent.as_deref();
            let mut steps = 0;
            while let Some(p) = next {
                let parent = by_code.get(p).ok_or_else(|| bad(format!("parent {p:?} is not in the list")))?;
                steps += 1;
                if p == a.code || steps > self.areas.len() {
                    return Err(bad(format!("its parents form a cycle (through {p:?})")));
                }
                next = parent.parent.as_deref();
            }
            match (a.level.parent_level(), &a.parent) {
                (None, None) => {}
                (None, Some(_)) => return Err(bad("a country has no parent".into())),
                (Some(_), None) => return Err(bad("only a country may have no parent".into())),
                (Some(want), Some(p)) => {
                    let level = by_code[p.as_str()].level;
                    if level != want {
                        return Err(bad(format!("parent {p:?} is a {level:?}, not a {want:?}")));
                    }
                }
            }
        }
        Ok(())
    }

    /// The area with this code.
    pub fn get(&self, code: &str) -> Option<&AdminArea> {
        self.areas.iter().find(|a| a.code == code)
    }

    /// The area and its ancestors, the country first. Empty for an unknown code.
    pub fn path(&self, code: &str) -> Vec<&AdminArea> {
        let mut out = Vec::new();
        let mut next = self.get(code);
        // The parents form no cycle (checked); the bound keeps a list
        // built without `check` from looping.
        while let Some(a) = next.filter(|_| out.len() <= self.areas.len()) {
            out.push(a);
            next = a.parent.as_deref().and_then(|p| self.get(p));
        }
        out.reverse();
        out
    }

    /// Whether `code` is `ancestor` or lies inside it (filtering by area).
    pub fn is_within(&self, code: &str, ancestor: &str) -> bool {
        self.path(code).iter().any(|a| a.code == ancestor)
    }

    /// The list as a form value list: every area, labelled with its path.
    pub fn value_list(&self) -> ValueList {
        let options = self
            .areas
            .iter()
            .map(|a| {
                let path = self.path(&a.code);
                let join = |pick: fn(&Labels) -> &String| {
                    path.iter().map(|p| pick(&p.labels).as_str()).collect::<Vec<_>>().join(" / ")
                };
                OptionDef {
                    value: a.code.clone(),
                    labels: Labels { en: join(|l| &l.en), fr: join(|l| &l.fr), ar: join(|l| &l.ar) },
                }
            })
            .collect();
        ValueList {
            labels: Labels {
                en: "Administrative area".into(),
                fr: "Zone administrative".into(),
                ar: "المنطقة الإدارية".into(),
            },
            options,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn area(code: &str, parent: Option<&str>, level: &str) -> serde_json::Value {
        let mut a =
            serde_json::json!({"code": code, "level": level, "labels": {"en": code, "fr": code, "ar": "منطقة"}});
        if let Some(p) = parent {
            a["parent"] = p.into();
        }
        a
    }

    fn parse(areas: Vec<serde_json::Value>) -> Result<AdminAreas, AdminAreasError> {
        AdminAreas::parse(&serde_json::json!({"version": 1, "areas": areas}).to_string())
    }

    #[test]
    fn paths_and_labels_follow_the_hierarchy() {
        let a = parse(vec![
            area("x", None, "country"),
            area("x_r", Some("x"), "region"),
            area("x_r_d", Some("x_r"), "district"),
        ])
        .unwrap();
        let codes: Vec<&str> = a.path("x_r_d").iter().map(|a| a.code.as_str()).collect();
        assert_eq!(codes, ["x", "x_r", "x_r_d"]);
        assert!(a.is_within("x_r_d", "x"));
        assert!(!a.is_within("x", "x_r"));
        assert!(a.path("nowhere").is_empty());
        let list = a.value_list();
        assert_eq!(list.options[2].value, "x_r_d");
        assert_eq!(list.options[2].labels.en, "x / x_r / x_r_d");
    }

    #[test]
    fn broken_hierarchies_are_refused_with_the_area_named() {
        let cases: Vec<(Vec<serde_json::Value>, &str)> = vec![
            (vec![area("x", None, "country"), area("x", None, "country")], "used twice"),
            (vec![area("x_r", Some("y"), "region"), area("x", None, "country")], "not in the list"),
            (vec![area("a", Some("b"), "region"), area("b", Some("a"), "region")], "cycle"),
            (vec![area("x", None, "country"), area("x_d", Some("x"), "district")], "not a Region"),
            (vec![area("x_r", None, "region")], "only a country"),
            (vec![area("X", None, "country")], "snake_case"),
            (vec![area("y", None, "country"), area("x", Some("y"), "country")], "a country has no parent"),
        ];
        for (areas, want) in cases {
            let err = parse(areas).unwrap_err().to_string();
            assert!(err.contains(want), "{err} should say {want}");
        }
        assert!(matches!(AdminAreas::parse("{"), Err(AdminAreasError::Malformed(_))));
        assert!(AdminAreas::parse(r#"{"version":2,"areas":[]}"#).is_err());
    }
}
