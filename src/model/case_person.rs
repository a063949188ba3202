//! The identifying facts of one case, read from the projection tables: what
//! search, tracing and duplicate matching compare, and what an import
//! collects about its new cases for the duplicate check (also reachable
//! as `search::person`).

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A relative named in a case: a family member recorded at registration or a
/// person sought by a tracing request (a `family_tracing` item).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Relative {
    /// Name as recorded.
    pub name: String,
    /// Other spellings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_names: Vec<String>,
    /// Relationship to the child (value list `relationship`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relationship: Option<String>,
    /// Sex, if recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sex: Option<String>,
    /// Age in years, if recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age: Option<f64>,
    /// Last known location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The `family_tracing` item, for a person sought; empty for a family
    /// member recorded at registration.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub item: String,
}

/// An identity document recorded at registration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IdDocument {
    /// Document type (value list `identity_document_type`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Number as recorded.
    pub number: String,
}

impl IdDocument {
    /// The number with spaces, dashes and case removed, for comparing.
    pub fn normalized(&self) -> String {
        self.number.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_uppercase).collect()
    }
}

fn documents(v: Option<&Value>) -> Vec<IdDocument> {
    let Some(Value::Array(items)) = v else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|d| {
            let number = d.get("number").and_then(text)?;
            Some(IdDocument { kind: d.get("type").and_then(text), number })
        })
        .collect()
}

fn present(v: Option<&Value>) -> bool {
    !matches!(v, None | Some(Value::Null))
}

/// What matching knows about one case.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CasePerson {
    /// Case id.
    pub case_id: String,
    /// Case number.
    pub case_number: String,
    /// Office.
    pub office: String,
    /// Lifecycle stage.
    pub stage: String,
    /// Caseworker.
    #[serde(default)]
    pub caseworker: Option<String>,
    /// Case this one was merged into.
    #[serde(default)]
    pub merged_into: Option<String>,
    /// Given names as stated.
    #[serde(default)]
    pub given_names: String,
    /// Family name as stated.
    #[serde(default)]
    pub family_name: String,
    /// Other names and spellings.
    #[serde(default)]
    pub other_names: Vec<String>,
    /// Sex.
    #[serde(default)]
    pub sex: Option<String>,
    /// Age in years.
    #[serde(default)]
    pub age: Option<f64>,
    /// Date of birth (YYYY-MM-DD).
    #[serde(default)]
    pub date_of_birth: Option<String>,
    /// How the age or date of birth was established (`document`,
    /// `declared`, `estimated`, `disputed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_basis: Option<String>,
    /// Identity documents (type and number).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub documents: Vec<IdDocument>,
    /// Whether a photo is attached (its content is never compared here).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub photo: bool,
    /// Registration date (YYYY-MM-DD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_date: Option<String>,
    /// Place of origin.
    #[serde(default)]
    pub place_of_origin: Option<String>,
    /// Place of separation.
    #[serde(default)]
    pub separation_place: Option<String>,
    /// Date of separation.
    #[serde(default)]
    pub separation_date: Option<String>,
    /// Nationalities.
    #[serde(default)]
    pub nationality: Vec<String>,
    /// Family members recorded at registration.
    #[serde(default)]
    pub family: Vec<Relative>,
    /// People sought by tracing requests.
    #[serde(default)]
    pub sought: Vec<Relative>,
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Object(o) => o.get("name").and_then(text),
        _ => None,
    }
}

fn texts(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a.iter().filter_map(text).collect(),
        Some(v) => text(v).into_iter().collect(),
        None => Vec::new(),
    }
}

/// The relatives of a registration's `family_members` value (a list of
/// objects; members without a name are left out), as the projection rows and
/// a folded case state both hold it.
fn family_members(v: &Value) -> impl Iterator<Item = Relative> + '_ {
    v.as_array().into_iter().flatten().filter_map(|m| {
        Some(Relative {
            name: m.get("name").and_then(text)?,
            other_names: texts(m.get("other_names")),
            relationship: m.get("relationship").and_then(text),
            sex: m.get("sex").and_then(text),
            age: number(m.get("age")),
            location: m.get("last_known_location").and_then(text),
            item: String::new(),
        })
    })
}

fn number(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl CasePerson {
    /// Given, family and other names as one list of full names.
    pub fn all_names(&self) -> Vec<String> {
        let mut out = vec![format!("{} {}", self.given_names, self.family_name).trim().to_string()];
        out.extend(self.other_names.iter().cloned());
        out.retain(|n| !n.is_empty());
        out
    }

    /// The recorded mother or father (first with that relationship).
    pub fn parent(&self, relationship: &str) -> Option<&Relative> {
        self.family.iter().find(|r| r.relationship.as_deref() == Some(relationship))
    }

    /// Load one case from the projection tables; `None` when it has no row
    /// in `cases` (not registered) or was erased.
    pub fn load(conn: &Connection, case_id: &str) -> rusqlite::Result<Option<CasePerson>> {
        // Cached: the projection loads the person of every case a commit
        // touches (compiling this query each time was 1 % of an import).
        let row = conn
            .prepare_cached(
                "SELECT case_number, office, stage, caseworker, merged_into, given_names, family_name, sex,
                        age_years, date_of_birth, erased FROM cases WHERE id = ?1 AND case_type <> 'inquiry'",
            )?
            .query_row([case_id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, Option<String>>(6)?,
                    r.get::<_, Option<String>>(7)?,
                    r.get::<_, Option<String>>(8)?,
                    r.get::<_, Option<String>>(9)?,
                    r.get::<_, i64>(10)?,
                ))
            })
            .optional()?;
        let Some((case_number, office, stage, caseworker, merged_into, given, family, sex, age, dob, erased)) = row
        else {
            return Ok(None);
        };
        if erased != 0 {
            return Ok(None);
        }
        let mut p = CasePerson {
            case_id: case_id.to_string(),
            case_number,
            office,
            stage,
            caseworker,
            merged_into,
            given_names: given.unwrap_or_default(),
            family_name: family.unwrap_or_default(),
            sex,
            age: age.and_then(|a| a.trim().parse().ok()),
            date_of_birth: dob,
            ..CasePerson::default()
        };
        let mut stmt = conn.prepare_cached(
            "SELECT form, item, field, value FROM field_values
             WHERE case_id = ?1 AND form IN ('registration_bia', 'family_tracing') AND value IS NOT NULL",
        )?;
        let rows = stmt.query_map(params![case_id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?))
        })?;
        let mut sought: std::collections::BTreeMap<String, Relative> = std::collections::BTreeMap::new();
        for row in rows {
            let (form, item, field, value) = row?;
            // Values are canonical JSON written by the projection; a value
            // that does not parse is skipped rather than failing the index.
            let Ok(v) = serde_json::from_str::<Value>(&value) else {
                continue;
            };
            if form == "registration_bia" {
                match field.as_str() {
                    "other_names" => p.other_names = texts(Some(&v)),
                    "age_basis" => p.age_basis = text(&v),
                    "identity_documents" => p.documents = documents(Some(&v)),
                    "photo" => p.photo = present(Some(&v)),
                    "registration_date" => p.registration_date = text(&v),
                    "place_of_origin" => p.place_of_origin = text(&v),
                    "separation_place" => p.separation_place = text(&v),
                    "separation_date" => p.separation_date = text(&v),
                    "nationality" => p.nationality = texts(Some(&v)),
                    "family_members" => p.family.extend(family_members(&v)),
                    _ => {}
                }
            } else {
                let r = sought
                    .entry(item.clone())
                    .or_insert_with(|| Relative { item: item.clone(), ..Relative::default() });
                match field.as_str() {
                    "relative" => r.name = text(&v).unwrap_or_default(),
                    "relative_other_names" => r.other_names = texts(Some(&v)),
                    "relationship" => r.relationship = text(&v),
                    "relative_sex" => r.sex = text(&v),
                    "relative_age" => r.age = number(Some(&v)),
                    "last_known_location" => r.location = text(&v),
                    _ => {}
                }
            }
        }
        p.sought = sought.into_values().filter(|r| !r.name.is_empty()).collect();
        Ok(Some(p))
    }
}

impl CasePerson {
    /// The person of a case folded from its events (for cases not yet in the
    /// database, e.g. the new cases of a bundle being imported). `None` when
    /// the events do not register the case.
    pub fn from_state(st: &crate::model::projection::CaseState) -> Option<CasePerson> {
        let reg = st.registration.as_ref()?;
        // An inquiry is not a child's case: it is matched by
        // `search::inquiry`, never indexed as a registered child.
        if st.erased || crate::model::inquiry::is_inquiry_type(&reg.case_type) {
            return None;
        }
        let f1 = |field: &str| st.value("registration_bia", None, field);
        let mut p = CasePerson {
            case_id: st.case_id.to_string(),
            case_number: reg.case_number.clone(),
            office: reg.office.clone(),
            stage: st.stage.clone().unwrap_or_else(|| "identified".into()),
            caseworker: st.caseworker.clone(),
            merged_into: st.merged_into.map(|m| m.to_string()),
            given_names: f1("given_names").and_then(text).unwrap_or_default(),
            family_name: f1("family_name").and_then(text).unwrap_or_default(),
            other_names: texts(f1("other_names")),
            sex: f1("sex").and_then(text),
            age: number(f1("age_years")),
            date_of_birth: f1("date_of_birth").and_then(text),
            place_of_origin: f1("place_of_origin").and_then(text),
            separation_place: f1("separation_place").and_then(text),
            separation_date: f1("separation_date").and_then(text),
            nationality: texts(f1("nationality")),
            age_basis: f1("age_basis").and_then(text),
            documents: documents(f1("identity_documents")),
            photo: present(f1("photo")),
            registration_date: f1("registration_date").and_then(text),
            ..CasePerson::default()
        };
        if let Some(members) = f1("family_members") {
            p.family.extend(family_members(members));
        }
        for (item, _) in st.items_of("family_tracing") {
            let v = |field: &str| st.value("family_tracing", Some(item), field);
            let Some(name) = v("relative").and_then(text) else {
                continue;
            };
            p.sought.push(Relative {
                name,
                other_names: texts(v("relative_other_names")),
                relationship: v("relationship").and_then(text),
                sex: v("relative_sex").and_then(text),
                age: number(v("relative_age")),
                location: v("last_known_location").and_then(text),
                item: item.to_string(),
            });
        }
        Some(p)
    }
}
