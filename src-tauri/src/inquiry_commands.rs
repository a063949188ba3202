//! Tracing-inquiry commands for the Inquiries screen: thin wrappers over
//! `fieldcase::model::inquiry` (record, change, read, list) and
//! `fieldcase::search::inquiry::match_inquiry_for` (the explained matches
//! the reader may see). Who may do what is the library's rule; a refusal
//! comes back as the library's error.

use fieldcase::model::inquiry::Inquiry;
use fieldcase::model::store::CaseStore;
use fieldcase::model::visibility::HiddenCount;
use fieldcase::search::inquiry::{match_inquiry_for, InquiryMatch};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tauri::State;
use ts_rs::TS;

use crate::search_commands::{ui_error, ScorePartDto};
use crate::session::{Session, UiError};

macro_rules! inquiry_dto {
    ($item:item) => {
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
        #[ts(export, export_to = "../../ui/src/lib/bindings/")]
        $item
    };
}

inquiry_dto! {
/// One inquiry as the reader may see it.
pub struct InquiryDto {
    /// Its id (UUID).
    pub id: String,
    /// Its number (`ABC-INQ-2026-00001`).
    pub number: String,
    /// The office that recorded it.
    pub office: String,
    /// Who recorded it.
    pub recorded_by: Option<String>,
    /// The caseworker it is assigned to.
    pub caseworker: Option<String>,
    /// `open`, `matched` or `closed`.
    pub status: String,
    /// The values of form `inquiry` the reader may see.
    #[ts(type = "Record<string, unknown>")]
    pub values: Map<String, Value>,
    /// Fields left out, with the reason code.
    pub hidden_fields: Vec<HiddenFieldDto>,
}
}

inquiry_dto! {
/// A field of an inquiry the reader may not see, and why.
pub struct HiddenFieldDto {
    /// The field name.
    pub field: String,
    /// The reason code (`HiddenReason::code`).
    pub reason: String,
}
}

inquiry_dto! {
/// How many records a view left out, for one reason.
pub struct HiddenCountDto {
    /// The reason code (`HiddenReason::code`).
    pub reason: String,
    /// How many.
    pub count: u32,
}
}

inquiry_dto! {
/// The inquiries the reader may see, and a count of those left out.
pub struct InquiryListDto {
    /// By number.
    pub inquiries: Vec<InquiryDto>,
    /// Left out, by reason.
    pub hidden: Vec<HiddenCountDto>,
}
}

inquiry_dto! {
/// One possible match of an inquiry.
pub struct InquiryMatchDto {
    /// `registered_child` or `other_inquiry`.
    pub kind: String,
    /// The case or the other inquiry (UUID).
    pub id: String,
    /// Its number.
    pub number: String,
    /// The registered child's name, or the name the other inquiry seeks.
    pub name: String,
    /// 0..100.
    pub score: f64,
    /// How the score was made (the same parts as a tracing match).
    pub parts: Vec<ScorePartDto>,
}
}

inquiry_dto! {
/// The matches of an inquiry the reader may see.
pub struct InquiryMatchesDto {
    /// Best first.
    pub matches: Vec<InquiryMatchDto>,
    /// Matches in records the reader may not see, by reason.
    pub hidden: Vec<HiddenCountDto>,
}
}

inquiry_dto! {
/// A newly recorded inquiry.
pub struct NewInquiryDto {
    /// Its id (UUID).
    pub id: String,
    /// Its number.
    pub number: String,
}
}

fn hidden_dtos(hidden: Vec<HiddenCount>) -> Vec<HiddenCountDto> {
    hidden
        .into_iter()
        .map(|h| HiddenCountDto {
            reason: h.reason.code().to_string(),
            count: u32::try_from(h.count).unwrap_or(u32::MAX),
        })
        .collect()
}

impl From<Inquiry> for InquiryDto {
    fn from(i: Inquiry) -> Self {
        InquiryDto {
            id: i.id.to_string(),
            number: i.number,
            office: i.office,
            recorded_by: i.recorded_by,
            caseworker: i.caseworker,
            status: i.status,
            values: i.values,
            hidden_fields: i
                .hidden_fields
                .into_iter()
                .map(|(field, reason)| HiddenFieldDto { field, reason: reason.code().to_string() })
                .collect(),
        }
    }
}

impl From<InquiryMatch> for InquiryMatchDto {
    fn from(m: InquiryMatch) -> Self {
        InquiryMatchDto {
            kind: m.kind,
            id: m.id.to_string(),
            number: m.number,
            name: m.name,
            score: m.score,
            parts: m.parts.into_iter().map(ScorePartDto::from).collect(),
        }
    }
}

/// The inquiries the reader may see.
pub fn list_in(store: &CaseStore) -> Result<InquiryListDto, UiError> {
    let list = store.list_inquiries()?;
    Ok(InquiryListDto {
        inquiries: list.inquiries.into_iter().map(InquiryDto::from).collect(),
        hidden: hidden_dtos(list.hidden),
    })
}

/// Record a new inquiry with the values of form `inquiry`, in one commit.
pub fn create_in(store: &mut CaseStore, office: &str, values: Map<String, Value>) -> Result<NewInquiryDto, UiError> {
    let (id, number) = store.new_inquiry(office, values)?;
    Ok(NewInquiryDto { id: id.to_string(), number })
}

/// Change values of an inquiry (id or number).
pub fn update_in(store: &mut CaseStore, inquiry: &str, values: Map<String, Value>) -> Result<InquiryDto, UiError> {
    let id = store.find_inquiry(inquiry)?;
    store.update_inquiry(id, values)?;
    Ok(store.inquiry(id)?.into())
}

/// One inquiry (id or number).
pub fn get_in(store: &CaseStore, inquiry: &str) -> Result<InquiryDto, UiError> {
    let id = store.find_inquiry(inquiry)?;
    Ok(store.inquiry(id)?.into())
}

/// The explained matches of an inquiry (id or number) the reader may see.
pub fn match_in(store: &CaseStore, inquiry: &str) -> Result<InquiryMatchesDto, UiError> {
    let id = store.find_inquiry(inquiry)?;
    let m = match_inquiry_for(store, id).map_err(ui_error)?;
    Ok(InquiryMatchesDto {
        matches: m.matches.into_iter().map(InquiryMatchDto::from).collect(),
        hidden: hidden_dtos(m.hidden),
    })
}

/// The inquiries the reader may see.
#[tauri::command]
pub async fn inquiry_list(session: State<'_, Session>) -> Result<InquiryListDto, UiError> {
    session.with_store(|s| list_in(s))
}

/// Record a new inquiry.
#[tauri::command]
pub async fn inquiry_create(
    session: State<'_, Session>,
    office: String,
    values: Map<String, Value>,
) -> Result<NewInquiryDto, UiError> {
    session.with_store(|s| create_in(s, &office, values))
}

/// Change values of an inquiry.
#[tauri::command]
pub async fn inquiry_update(
    session: State<'_, Session>,
    inquiry: String,
    values: Map<String, Value>,
) -> Result<InquiryDto, UiError> {
    session.with_store(|s| update_in(s, &inquiry, values))
}

/// One inquiry.
#[tauri::command]
pub async fn inquiry_get(session: State<'_, Session>, inquiry: String) -> Result<InquiryDto, UiError> {
    session.with_store(|s| get_in(s, &inquiry))
}

/// The explained matches of an inquiry.
#[tauri::command]
pub async fn inquiry_matches(session: State<'_, Session>, inquiry: String) -> Result<InquiryMatchesDto, UiError> {
    session.with_store(|s| match_in(s, &inquiry))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{store, values};
    use fieldcase::model::event::Role;
    use serde_json::json;

    fn inquiry_values() -> Map<String, Value> {
        values(json!({
            "inquiry_date": "2026-03-02", "inquirer_name": "Mariam Diallo", "inquirer_relationship": "mother",
            "sought_given_names": "Mohamed", "sought_family_name": "Diallo", "sought_sex": "male",
            "sought_age": 15, "place_of_origin": "Labé", "status": "open",
        }))
    }

    #[test]
    fn an_inquiry_made_listed_and_matched_to_the_registered_child() {
        let (_tmp, mut s) = store();
        let child = s.create_case("uasc", "Agadez").expect("case");
        s.save_form(
            child,
            "registration_bia",
            None,
            values(json!({
                "given_names": "Mohamed", "family_name": "Diallo", "sex": "male", "age_years": 15,
                "place_of_origin": "Labé",
                "family_members": [{"name": "Mariam Diallo", "relationship": "mother"}],
            })),
        )
        .expect("registration");

        let made = create_in(&mut s, "Agadez", inquiry_values()).expect("inquiry");
        assert!(made.number.contains("INQ"), "{}", made.number);

        let list = list_in(&s).expect("list");
        assert_eq!(list.inquiries.len(), 1, "{list:#?}");
        let row = &list.inquiries[0];
        assert_eq!((row.id.as_str(), row.status.as_str()), (made.id.as_str(), "open"));
        assert_eq!(row.values.get("inquirer_name"), Some(&json!("Mariam Diallo")));

        let found = match_in(&s, &made.number).expect("matches");
        let first = found.matches.first().expect("a match");
        assert_eq!((first.kind.as_str(), first.id.as_str()), ("registered_child", child.to_string().as_str()));
        assert!(first.parts.iter().any(|p| p.points > 0.0 && !p.detail.is_empty()), "{:?}", first.parts);

        let child_number = s.case_detail(child).expect("case").summary.case_number;
        let updated = update_in(&mut s, &made.id, values(json!({"status": "matched", "matched_to": child_number})))
            .expect("update");
        assert_eq!(updated.status, "matched");
        assert_eq!(get_in(&s, &made.id).expect("get").status, "matched");
    }

    #[test]
    fn bad_values_record_nothing_and_a_case_is_not_an_inquiry() {
        let (_tmp, mut s) = store();
        let mut v = inquiry_values();
        v.remove("inquirer_name");
        let err = create_in(&mut s, "Agadez", v).expect_err("incomplete inquiry");
        assert!(!err.code.is_empty());
        assert!(list_in(&s).expect("list").inquiries.is_empty(), "a refused inquiry records nothing");

        let case = s.create_case("uasc", "Agadez").expect("case");
        let err = get_in(&s, &case.to_string()).expect_err("a case is not an inquiry");
        assert_eq!(err.code, "not_found", "{err:?}");
    }

    #[test]
    fn a_reporting_viewer_is_refused_the_matches() {
        let (_tmp, mut s) = store();
        let made = create_in(&mut s, "Agadez", inquiry_values()).expect("inquiry");
        s.set_actor("Rita", Role::Viewer).expect("actor");
        let err = match_in(&s, &made.id).expect_err("a reporting viewer sees no matches");
        assert!(!err.code.is_empty(), "{err:?}");
    }
}
