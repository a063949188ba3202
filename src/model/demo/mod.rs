//! Deterministic synthetic demo data (docs/domain.md, Demo data), made through the real
//! case API so every event passes the same form, role and lifecycle checks
//! as a caseworker's.
//!
//! Generation happens in three steps:
//! 1. Plan: for each case, draw the child (corridor, nationality, sex, age,
//!    name and its spelling variants) and a path through the lifecycle with
//!    dated steps, each done by the role that may do it (caseworker,
//!    supervisor, BID panel, data manager). Near-duplicate registrations and
//!    fields that a second device will edit concurrently are planned too.
//! 2. Replay every step of every case in date order through one
//!    [`Batch`](crate::model::store::Batch), with the store's clock set to
//!    the step's time (the HLC never goes backwards, so order matters).
//!    Steps after the demo's end date are dropped: a case stops at the stage
//!    it reached by then, which gives a natural spread of stages.
//! 3. A second, simulated device signs concurrent edits of the same fields
//!    (some protected) and the store imports them, so conflicts exist.
//!
//! Everything depends only on the seed and the demo's last day (its
//! "today"): seeded random draws, seeded event/item ids, and a timeline of
//! fixed length ending on that day. [`generate`] ends on a fixed day
//! ([`end_date`], for tests and the benchmark); [`generate_until`] on the
//! day given, so a demo made today reads like a live office today.

pub mod names;

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use ed25519_dalek::SigningKey;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::model::event::{new_v7, Event, EventKind, Hlc, Role};
use crate::model::lifecycle::Stage;
use crate::model::store::{CaseStore, StoreError};

use names::{adult_name, language_for, places, Corridor, NameChoice, CORRIDORS};

const DAY: u64 = 86_400_000;
/// Steps replayed per vault commit.
const STEPS_PER_COMMIT: usize = 3000;
const HOUR: u64 = 3_600_000;

/// First day of demo activity of [`generate`].
pub fn start_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 3, 1).expect("valid date")
}

/// [`generate`]'s "today": nothing is recorded after this date.
pub fn end_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 10, 31).expect("valid date")
}

/// First day of a demo whose last day is `today`: the timeline always has
/// [`generate`]'s length.
pub fn start_date_for(today: NaiveDate) -> NaiveDate {
    today - (end_date() - start_date())
}

fn ms(d: NaiveDate) -> u64 {
    d.and_hms_opt(8, 0, 0).expect("valid time").and_utc().timestamp_millis() as u64
}

fn date_of(millis: u64) -> NaiveDate {
    chrono::DateTime::from_timestamp_millis(millis as i64).map(|d| d.date_naive()).unwrap_or_default()
}

fn ymd(millis: u64) -> String {
    date_of(millis).format("%Y-%m-%d").to_string()
}

/// What a demo run produced.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DemoSummary {
    /// Case records created (including planted duplicates).
    pub cases: usize,
    /// Events committed (local and imported).
    pub events: usize,
    /// Cases in the vault by stage after generation.
    pub by_stage: BTreeMap<String, usize>,
    /// Near-duplicate registrations planted.
    pub duplicates_planted: usize,
    /// Of those, merged by the data manager.
    pub duplicates_merged: usize,
    /// The planted pairs (case registered first, its near-duplicate), for
    /// measuring duplicate detection; not part of the printed summary.
    #[serde(default, skip_serializing)]
    pub duplicate_pairs: Vec<(Uuid, Uuid)>,
    /// Concurrent edits imported from the second device.
    pub conflicts_planted: usize,
    /// Of those, on protected fields (needs review).
    pub protected_conflicts_planted: usize,
    /// Steps the rules refused (should be empty; a refusal means a bug in
    /// the plan, and the rest of that case's plan is skipped).
    pub refused: Vec<String>,
    /// First day of activity.
    pub start: NaiveDate,
    /// Last day of activity (the demo's today).
    pub end: NaiveDate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Actor {
    Caseworker,
    Supervisor,
    Panel,
    DataManager,
}

#[derive(Debug, Clone)]
enum Op {
    Create { case_type: &'static str, office: &'static str },
    Assign,
    Save { form: &'static str, item: Option<Uuid>, values: Map<String, Value> },
    Stage { to: Stage, reason: String },
    Note(Map<String, Value>),
    Visit(Map<String, Value>),
    Referral(Map<String, Value>),
    Merge { into: usize },
    Transferred { to: String },
}

#[derive(Debug, Clone)]
struct Step {
    at: u64,
    case: usize,
    seq: usize,
    actor: Actor,
    op: Op,
}

/// A planned concurrent edit from the second device.
#[derive(Debug, Clone)]
struct PlannedConflict {
    case: usize,
    at: u64,
    field: &'static str,
    value: Value,
    protected: bool,
}

/// Staff of one office.
struct Staff {
    caseworker: String,
    supervisor: String,
    panel_chair: String,
}

fn staff_for(office: &str, pick: usize) -> Staff {
    let tag: String = office.chars().filter(char::is_ascii_alphabetic).take(3).collect::<String>().to_lowercase();
    const CW: [&str; 3] = ["amina", "yusuf", "grace"];
    Staff {
        caseworker: format!("{}.{tag}", CW[pick % 3]),
        supervisor: format!("sup.{tag}"),
        panel_chair: format!("panel.{tag}"),
    }
}

const DATA_MANAGER: &str = "dm.country";

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn person(name: &str, role: &str, org: &str) -> Value {
    json!({"name": name, "role": role, "organisation": org})
}

fn signed(by: &str, at: u64) -> Value {
    json!({"by": by, "method": "signature", "date": ymd(at)})
}

/// Log-normal-ish draw around a median (days), clamped.
fn days_around(rng: &mut StdRng, median: f64, min: f64, max: f64) -> u64 {
    let u1: f64 = rng.gen_range(1e-9..1.0);
    let u2: f64 = rng.gen();
    let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
    (median * (0.6 * z).exp()).clamp(min, max).round() as u64
}

fn weighted<T: Copy>(rng: &mut StdRng, items: &[(T, u32)]) -> T {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let mut x = rng.gen_range(0..total.max(1));
    for (t, w) in items {
        if x < *w {
            return *t;
        }
        x -= w;
    }
    items[items.len() - 1].0
}

fn pct(rng: &mut StdRng, p: u32) -> bool {
    rng.gen_range(0..100) < p
}

/// The drawn child behind one or more case records.
#[derive(Debug, Clone)]
struct Child {
    corridor: &'static Corridor,
    office: &'static str,
    coo_office: &'static str,
    nationality: &'static str,
    case_type: &'static str,
    female: bool,
    age: u32,
    dob: Option<NaiveDate>,
    age_basis: &'static str,
    name: NameChoice,
    place: &'static str,
    language: &'static str,
    unaccompanied: bool,
    vot: bool,
    staff_pick: usize,
    /// The parents whose names the child gives (set after the draw, from
    /// the planner's `family_rng`).
    mother: Option<NameChoice>,
    father: Option<NameChoice>,
    /// When the child says they were separated (set once the first
    /// registration recorded it): a second registration of the same child
    /// hears about the same day.
    separated: Option<u64>,
}

fn draw_child(rng: &mut StdRng, reg: u64) -> Child {
    let corridor: &'static Corridor = {
        let idx = weighted(rng, &CORRIDORS.iter().enumerate().map(|(i, (_, w))| (i, *w)).collect::<Vec<_>>());
        &CORRIDORS[idx].0
    };
    let office = corridor.offices[rng.gen_range(0..corridor.offices.len())];
    let coo_office = corridor.coo_offices[rng.gen_range(0..corridor.coo_offices.len())];
    let nationality = weighted(rng, corridor.nationalities);
    let case_type = weighted(
        rng,
        &[
            ("uasc", corridor.case_types[0]),
            ("accompanied_child_at_risk", corridor.case_types[1]),
            ("family_with_children", corridor.case_types[2]),
        ],
    );
    let uasc = case_type == "uasc";
    let vot = pct(rng, corridor.vot_percent);
    // Girls are over-represented among trafficked children (corridor A: 45%).
    let female = if uasc {
        if vot {
            pct(rng, 45)
        } else {
            !pct(rng, corridor.boys_percent)
        }
    } else {
        pct(rng, 50)
    };
    let age = if uasc {
        match weighted(rng, &[(0, corridor.ages[0]), (1, corridor.ages[1]), (2, corridor.ages[2])]) {
            0 => weighted(rng, &[(15, 25), (16, 35), (17, 40)]),
            1 => rng.gen_range(10..15),
            _ => rng.gen_range(5..10),
        }
    } else if pct(rng, 35) {
        rng.gen_range(0..5)
    } else {
        rng.gen_range(5..18)
    };
    let reg_date = date_of(reg);
    let age_basis = weighted(rng, &[("document", 25), ("declared", 40), ("estimated", 30), ("disputed", 5)]);
    let dob = if age_basis == "document" || (age_basis == "declared" && pct(rng, 50)) {
        let year = reg_date.year() - age as i32 - 1;
        // 30% of DOBs sit on 1 January (or 31 December).
        let d = if pct(rng, 30) {
            if pct(rng, 80) {
                NaiveDate::from_ymd_opt(year + 1, 1, 1)
            } else {
                NaiveDate::from_ymd_opt(year, 12, 31)
            }
        } else {
            NaiveDate::from_ymd_opt(year, rng.gen_range(1..=12), rng.gen_range(1..=28))
        };
        // Keep the drawn age: a birthday late in the year can make the
        // child a year older than drawn, and a child is under 18.
        d.map(|d| if reg_date.years_since(d).unwrap_or(0) > age { d.with_year(d.year() + 1).unwrap_or(d) } else { d })
            .filter(|d| *d < reg_date)
    } else {
        None
    };
    let age = dob.map_or(age, |d| reg_date.years_since(d).unwrap_or(age));
    let name = NameChoice::random(rng, nationality, female);
    let p = places(nationality);
    Child {
        corridor,
        office,
        coo_office,
        nationality,
        case_type,
        female,
        age,
        dob,
        age_basis,
        name,
        place: p[rng.gen_range(0..p.len())],
        language: language_for(rng, nationality),
        unaccompanied: pct(rng, corridor.uac_percent),
        vot,
        staff_pick: rng.gen_range(0..3),
        mother: None,
        father: None,
        separated: None,
    }
}

/// The administrative area (assets/config/admin_areas.json) of a demo office.
fn office_area(office: &str) -> Option<&'static str> {
    Some(match office {
        "Agadez" => "ner_agadez_agadez",
        "Niamey" => "ner_niamey_1",
        "Sfax" => "tun_sfax_ville",
        "Tapachula" => "mex_chiapas_tapachula",
        "Ciudad Juárez" => "mex_chihuahua_juarez",
        "Obock" => "dji_obock_town",
        "Aden" => "yem_aden_al_mansura",
        "Bosaso" => "som_bari_bosaso",
        _ => return None,
    })
}

/// How a UASC case ends up (the corridor's outcome mix, docs/domain.md, Demo data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Return,
    ReunifyDestination,
    LocalIntegration,
    ThirdCountry,
    Absconded,
}

/// Builder of one case's dated steps.
struct CasePlan {
    case: usize,
    t: u64,
    steps: Vec<Step>,
    seq: usize,
}

impl CasePlan {
    fn new(case: usize, t: u64, seq: usize) -> CasePlan {
        CasePlan { case, t, steps: Vec::new(), seq }
    }
    fn after_days(&mut self, days: u64) -> &mut Self {
        self.t += days * DAY + HOUR;
        self
    }
    fn push(&mut self, actor: Actor, op: Op) {
        self.t += 10 * 60_000;
        self.seq += 1;
        self.steps.push(Step { at: self.t, case: self.case, seq: self.seq, actor, op });
    }
    fn save(&mut self, actor: Actor, form: &'static str, values: Value) {
        self.push(actor, Op::Save { form, item: None, values: obj(values) });
    }
    fn save_item(&mut self, actor: Actor, form: &'static str, item: Uuid, values: Value) {
        self.push(actor, Op::Save { form, item: Some(item), values: obj(values) });
    }
    fn stage(&mut self, actor: Actor, to: Stage, reason: &str) {
        self.push(actor, Op::Stage { to, reason: reason.to_string() });
    }
}

struct Planner {
    /// Durable solution of the case being planned (set by plan_reintegration).
    last_solution: &'static str,
    /// Office and staff pick of every planned case, by case index.
    offices: BTreeMap<usize, (&'static str, usize)>,
    rng: StdRng,
    /// Draws for the 24-hour safety contact only, so adding it left every
    /// other draw (names, dates, outcomes) of a seed as it was.
    safety_rng: StdRng,
    /// Draws for the whole-case-record forms (protection concerns,
    /// reunification, case plan, referral outcomes), for the same reason.
    record_rng: StdRng,
    /// Draws for caregivers, placements, age assessments, incidents,
    /// schooling and case conferences, for the same reason.
    care_rng: StdRng,
    /// Draws for the values a complete BIA needs that earlier demos left
    /// out (a relative for a child who named no parent), for the same reason.
    bia_rng: StdRng,
    /// Draws for the parents' names and what each registration records of
    /// them, for the same reason.
    family_rng: StdRng,
    /// The separation date the last `registration` recorded.
    last_separation: Option<u64>,
    /// Whether the last `registration` recorded a family member.
    last_family: bool,
    /// Draws for the routine work up to the last day (`upkeep`), for the
    /// same reason.
    upkeep_rng: StdRng,
    /// When the case being planned was registered (set by `registration`).
    registered_at: u64,
    /// The reunification the next `arrive_and_follow` records: the verified
    /// relative's name and whether the child returns to the country of origin.
    reunify: Option<(String, bool)>,
    steps: Vec<Step>,
    seq: usize,
    conflicts: Vec<PlannedConflict>,
    duplicates: usize,
    merged: usize,
    /// Planted duplicates: (original, duplicate) case indices.
    planted: Vec<(usize, usize)>,
}

impl Planner {
    fn item_id(&mut self, at: u64) -> Uuid {
        new_v7(at, &mut self.rng)
    }

    fn registration(&mut self, p: &mut CasePlan, c: &Child, variant: usize, cw: &str, age: u32) {
        let (given, family) = c.name.render(variant);
        let uasc = c.case_type == "uasc";
        let reg_ms = p.t;
        self.registered_at = reg_ms;
        let mut v = json!({
            "case_type": c.case_type,
            "identification_date": ymd(reg_ms - DAY),
            "registration_date": ymd(reg_ms),
            "identification_source": (["border_authority", "reception_centre", "ngo_un", "community", "police", "detention_monitoring"][self.rng.gen_range(0..6)]),
            "caseworker": person(cw, "caseworker", "IOM"),
            "interview_language": c.language,
            "interpreter_needed": !matches!(c.language, "fr" | "en" | "es" | "ar"),
            "given_names": given,
            "family_name": family,
            "other_names": c.name.other_spellings(2),
            "sex": if c.female { "female" } else { "male" },
            "age_years": age,
            "age_basis": c.age_basis,
            "nationality": [c.nationality],
            "place_of_origin": c.place,
            "languages": [c.language],
            "child_status": if !uasc { "accompanied" } else if c.unaccompanied { "unaccompanied" } else { "separated" },
            "legal_status": if c.vot { "vot_presumed" } else if c.corridor.code == "B" { "asylum_seeker" } else { "migrant_irregular" },
            "care_arrangement": if uasc { if c.unaccompanied { "temporary_care_facility" } else { "kinship_extended_family" } } else { "parents" },
            "consent": signed(if c.age >= 15 { "child" } else { "guardian" }, reg_ms),
            "consent_source": if c.age >= 15 { "child" } else if uasc { "agency_best_interests" } else { "caregiver" },
            "consent_scopes": ["case_management", "data_collection_storage", "tracing_disclosure", "referral_sharing"],
            "legitimate_basis": "consent",
        });
        if let Some(d) = c.dob {
            v["date_of_birth"] = json!(d.format("%Y-%m-%d").to_string());
        }
        // Where the child is now: the office's area, from the data alone (no
        // draw), so adding it left every other draw of a seed as it was.
        if let Some(area) = office_area(c.office) {
            v["current_admin_area"] = json!(area);
            v["current_location_since"] = json!(ymd(reg_ms - DAY));
            v["current_address"] = json!(if uasc && c.unaccompanied {
                format!("Reception centre, {}", c.office)
            } else {
                format!("Host household, {} (see case file)", c.office)
            });
        }
        self.family_members(&mut v, c, variant);
        self.last_family = v.get("family_members").is_some();
        if uasc {
            v["separation_cause"] = json!(
                [
                    "migration",
                    "search_employment",
                    "poverty",
                    "sent_ahead_by_family",
                    "lost_in_transit",
                    "fled_violence_war"
                ][self.rng.gen_range(0..6)]
            );
            let drawn = reg_ms - DAY * self.rng.gen_range(20..400);
            // The same child registered again recalls about the same day.
            let sep = match c.separated {
                Some(first) => {
                    (first + DAY * self.family_rng.gen_range(0..15)).saturating_sub(7 * DAY).min(reg_ms - DAY)
                }
                None => drawn,
            };
            v["separation_date"] = json!(ymd(sep));
            self.last_separation = Some(sep);
            // What a complete registration of an unaccompanied or separated
            // child holds (conditional fields of F1), from the data alone so
            // that no other draw of a seed moves.
            v["separation_place"] = json!(format!("On the route to {}", c.office));
            let cause = v["separation_cause"].as_str().unwrap_or_default();
            v["separation_cause_other"] = json!([if cause == "poverty" { "search_employment" } else { "poverty" }]);
        } else {
            self.last_separation = None;
        }
        // The caregiver the arrangement names (care_record keeps the
        // caregiver's own record); a shelter's is the shelter.
        v["caregiver"] = if uasc && c.unaccompanied {
            person(&format!("{} reception centre", c.office), "facility", "NGO")
        } else if uasc {
            person("Relative (see the caregiver record)", "caregiver", "Family")
        } else {
            person("Parents (see the caregiver record)", "parent", "Family")
        };
        if v["interpreter_needed"] == json!(true) {
            v["interpreter"] = person(&adult_name(&mut self.rng, c.nationality, c.female), "interpreter", "IOM roster");
            v["interpreter_offer"] = json!("accepted");
            v["interpreter_sex"] = json!(if c.female { "female" } else { "male" });
            v["interpreter_affiliation"] = json!("IOM interpreter roster");
            v["interpreter_link"] = json!("none_professional");
            v["interpreter_confidentiality_pledge"] = json!(true);
        }
        p.save(Actor::Caseworker, "registration_bia", v);
        self.care_record(p, c);
    }

    /// The parents the child names at registration (the form asks for
    /// family members of every unaccompanied or separated child): a second
    /// registration of the same child (`variant` > 0) hears most of them
    /// again, spelled another way.
    fn family_members(&mut self, v: &mut Value, c: &Child, variant: usize) {
        let mut members = Vec::new();
        for (parent, relationship, sex) in [(&c.mother, "mother", "female"), (&c.father, "father", "male")] {
            let Some(name) = parent else { continue };
            if variant > 0 && !pct(&mut self.family_rng, 85) {
                continue;
            }
            let (g, f) = name.render(variant);
            let alive = weighted(&mut self.family_rng, &[("alive", 70), ("unknown", 25), ("dead", 5)]);
            members.push(json!({
                "name": format!("{g} {f}"),
                "relationship": relationship,
                "sex": sex,
                "alive": alive,
                "last_known_location": c.place,
            }));
        }
        if !members.is_empty() {
            v["family_members"] = Value::Array(members);
        }
    }

    /// The parents' names a child can give: most children name their
    /// mother, fewer their father.
    fn draw_parents(&mut self, c: &mut Child) {
        let (mother, father) = if c.case_type == "uasc" { (85, 80) } else { (95, 90) };
        if pct(&mut self.family_rng, mother) {
            c.mother = Some(c.name.mother(&mut self.family_rng));
        }
        if pct(&mut self.family_rng, father) {
            c.father = Some(c.name.father(&mut self.family_rng));
        }
    }

    /// The routine work of an open case between its last planned step and
    /// the demo's last day, as a live office does it: the case reviewed
    /// when its review falls due, the case plan reviewed, each protection
    /// concern's intervention done by its date. Without it every case still
    /// open on the last day showed months of overdue reviews. Most
    /// caseworkers keep up; the cases of the others (about one in seven)
    /// keep their overdue work, as a register really has.
    fn upkeep(&mut self, p: &mut CasePlan, end: u64) {
        let live: Vec<&Step> = p.steps.iter().filter(|s| s.at <= end).collect();
        let Some(stage) = live.iter().rev().find_map(|s| match &s.op {
            Op::Stage { to, .. } => Some(*to),
            _ => None,
        }) else {
            return;
        };
        let Some(last) = live.last().map(|s| s.at) else {
            return;
        };
        if !stage.is_open() || !pct(&mut self.upkeep_rng, 85) {
            return;
        }
        // The latest date a form's saves set a field to.
        let latest = |form: &str, item: Option<Uuid>, field: &str| -> Option<NaiveDate> {
            live.iter().rev().find_map(|s| match &s.op {
                Op::Save { form: f, item: i, values } if *f == form && *i == item => values
                    .get(field)
                    .and_then(Value::as_str)
                    .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()),
                _ => None,
            })
        };
        let case_review = latest("registration_bia", None, "next_review_date");
        let plan_review = latest("case_plan", None, "next_review_date");
        // Concerns still open, with the date their intervention is due by.
        let mut concerns: Vec<(Uuid, NaiveDate)> = Vec::new();
        let mut resolved: Vec<Uuid> = Vec::new();
        for s in live.iter().rev() {
            if let Op::Save { form: "protection_concern", item: Some(id), values } = &s.op {
                if values.get("status").and_then(Value::as_str) == Some("resolved") {
                    resolved.push(*id);
                }
                if resolved.contains(id) || concerns.iter().any(|(c, _)| c == id) {
                    continue;
                }
                if let Some(by) = latest("protection_concern", Some(*id), "intervention_by") {
                    concerns.push((*id, by));
                }
            }
        }
        let mut planned: Vec<(u64, &'static str, Option<Uuid>, Value)> = Vec::new();
        // Done on or a few days before the day it is due, never before the
        // case's last planned step.
        let when = |due: NaiveDate, rng: &mut StdRng| -> u64 {
            (ms(due).saturating_sub(DAY * rng.gen_range(0..4))).max(last + HOUR)
        };
        if stage != Stage::ClosurePending {
            let mut due = case_review;
            while let Some(d) = due.filter(|d| ms(*d) <= end) {
                let at = when(d, &mut self.upkeep_rng);
                let next = at + 90 * DAY;
                planned.push((at, "registration_bia", None, json!({"next_review_date": ymd(next)})));
                due = Some(date_of(next));
            }
        }
        let mut due = plan_review;
        while let Some(d) = due.filter(|d| ms(*d) <= end) {
            let at = when(d, &mut self.upkeep_rng);
            let next = at + 60 * DAY;
            let changed = pct(&mut self.upkeep_rng, 15);
            planned.push((
                at,
                "case_plan",
                None,
                json!({
                    "reviews": [{"review_date": ymd(at), "progress": "Reviewed with the child; actions on track.", "plan_changed": changed}],
                    "next_review_date": ymd(next),
                }),
            ));
            due = Some(date_of(next));
        }
        for (id, by) in concerns {
            if ms(by) > end {
                continue;
            }
            let at = when(by, &mut self.upkeep_rng);
            planned.push((
                at,
                "protection_concern",
                Some(id),
                json!({"status": "resolved", "resolved_date": ymd(at), "resolution": "Intervention done; checked with the child."}),
            ));
        }
        // A follow-up visit that was not made is recorded as an attempt in
        // its window (the schedule asks for a visit or a documented attempt).
        let mut visits: Vec<(u64, Value)> = Vec::new();
        if matches!(stage, Stage::Reintegration | Stage::FollowUp) {
            let t0 = live.iter().rev().find_map(|s| match &s.op {
                Op::Stage { to: Stage::Reintegration, .. } => Some(s.at),
                _ => None,
            });
            let done: Vec<&str> = live
                .iter()
                .filter_map(|s| match &s.op {
                    Op::Visit(v) => v.get("visit_due").and_then(Value::as_str),
                    _ => None,
                })
                .collect();
            for slot in t0.map(|t0| crate::model::tasks::follow_up_schedule(date_of(t0))).unwrap_or_default() {
                let due = slot.due.format("%Y-%m-%d").to_string();
                if ms(slot.deadline()) > end || done.contains(&due.as_str()) {
                    continue;
                }
                let at = ms(slot.due + chrono::Days::new(self.upkeep_rng.gen_range(0..slot.grace_days.max(1))));
                visits.push((
                    at,
                    json!({
                        "visit_due": due, "visit_date": ymd(at), "follow_up_type": "after_reunification_return",
                        "method": "scheduled_home_visit", "child_seen": false, "not_seen_reason": ["visiting_relatives"],
                        "care_arrangement_observed": "parents",
                        "wellbeing_safety": "stable", "wellbeing_family_relations": "stable", "wellbeing_health": "stable",
                        "wellbeing_education_attendance": "stable", "wellbeing_psychosocial": "stable",
                        "wellbeing_economic": "stable", "wellbeing_community_acceptance": "stable", "wellbeing_documentation": "unknown",
                        "risk_level": "low", "remigration_intention": "no",
                        "caregiver_views": "The child was away visiting relatives; the family is well.",
                        "recommend_closure": false, "next_visit_date": ymd(at + 14 * DAY),
                    }),
                ));
            }
        }
        for (at, form, item, values) in planned {
            if at > end {
                continue;
            }
            p.seq += 1;
            let op = Op::Save { form, item, values: obj(values) };
            p.steps.push(Step { at, case: p.case, seq: p.seq, actor: Actor::Caseworker, op });
        }
        for (at, v) in visits {
            p.seq += 1;
            p.steps.push(Step { at, case: p.case, seq: p.seq, actor: Actor::Caseworker, op: Op::Visit(obj(v)) });
        }
    }

    /// One tracked record per protection concern the BIA found: trafficking
    /// is urgent; some concerns are already resolved.
    fn protection_concerns(&mut self, p: &mut CasePlan, concerns: &[&'static str]) {
        for concern in concerns {
            let item = new_v7(p.t, &mut self.record_rng);
            let urgent = *concern == "trafficking";
            let resolved = !urgent && pct(&mut self.record_rng, 30);
            let mut v = json!({
                "concern_type": concern,
                "identified_date": ymd(p.t),
                "stage_identified": "assessment",
                "urgent": urgent,
                "status": if resolved { "resolved" } else if urgent { "in_progress" } else { "open" },
                "details": "Identified at the BIA interview.",
            });
            if urgent || pct(&mut self.record_rng, 50) {
                v["intervention_needed"] = json!(if urgent {
                    "Safe shelter, referral to the anti-trafficking unit"
                } else {
                    "Referral to the service the concern calls for"
                });
                v["intervention_by"] = json!(ymd(p.t + if urgent { DAY } else { 14 * DAY }));
            }
            if resolved {
                v["resolved_date"] = json!(ymd(p.t));
                v["resolution"] = json!("Addressed through the case plan.");
            }
            p.save_item(Actor::Caseworker, "protection_concern", item, v);
        }
    }

    /// The case plan after the assessment: drawn up within the risk level's
    /// time, approval requested, approved by the supervisor (some returned
    /// once with comments and resubmitted).
    fn case_plan(&mut self, p: &mut CasePlan, c: &Child, risk: &str, staff: &Staff) {
        let limit = match risk {
            "high" => 3,
            "low" => 14,
            _ => 7,
        };
        p.after_days(self.record_rng.gen_range(0..limit));
        let uasc = c.case_type == "uasc";
        let mut goals = vec![json!({"goal_domain": "safety", "goal": "Safe, stable care while the case is open"})];
        let mut actions = vec![json!({"action": "Weekly contact with the child", "responsible": staff.caseworker,
            "due_date": ymd(p.t + 7 * DAY), "action_status": "in_progress"})];
        if uasc {
            goals.push(json!({"goal_domain": "family", "goal": "Family traced and the child's wishes about reunification known"}));
            actions.push(json!({"action": "Open tracing with the country-of-origin office", "responsible": format!("IOM {}", c.coo_office),
                "due_date": ymd(p.t + 14 * DAY), "action_status": "planned"}));
        }
        if c.age >= 6 {
            goals.push(json!({"goal_domain": "education", "goal": "Attends school or non-formal education"}));
            actions.push(json!({"action": "Enrol in a learning programme", "responsible": "Partner NGO",
                "due_date": ymd(p.t + 30 * DAY), "action_status": "planned"}));
        }
        p.save(
            Actor::Caseworker,
            "case_plan",
            json!({
                "plan_date": ymd(p.t), "plan_author": person(&staff.caseworker, "caseworker", "IOM"),
                "goals": goals, "actions": actions, "approval_status": "requested",
            }),
        );
        p.after_days(1);
        if pct(&mut self.record_rng, 10) {
            p.save(
                Actor::Supervisor,
                "case_plan",
                json!({"approval_status": "returned", "approval_date": ymd(p.t),
                "approval_comments": "Add the child's health check to the actions."}),
            );
            p.after_days(1);
            let mut revised = p
                .steps
                .iter()
                .rev()
                .find_map(|s| match &s.op {
                    Op::Save { form: "case_plan", values, .. } if values.contains_key("actions") => {
                        values.get("actions").cloned()
                    }
                    _ => None,
                })
                .unwrap_or_else(|| json!([]));
            if let Some(a) = revised.as_array_mut() {
                a.push(json!({"action": "Health check", "responsible": "Clinic", "due_date": ymd(p.t + 7 * DAY), "action_status": "planned"}));
            }
            p.save(Actor::Caseworker, "case_plan", json!({"actions": revised, "approval_status": "requested"}));
            p.after_days(1);
        }
        p.save(
            Actor::Supervisor,
            "case_plan",
            json!({"approval_status": "approved", "approval_date": ymd(p.t),
            "approval_comments": "Approved.", "next_review_date": ymd(p.t + 30 * DAY)}),
        );
    }

    /// At registration: who cares for the child and where they have lived
    /// (a third of the unaccompanied children came from an emergency foster
    /// family; most of those moves already have the status review R15 asks
    /// for).
    fn care_record(&mut self, p: &mut CasePlan, c: &Child) {
        let uasc = c.case_type == "uasc";
        let reg = p.t;
        let current = if uasc {
            if c.unaccompanied {
                "temporary_care_facility"
            } else {
                "kinship_extended_family"
            }
        } else {
            "parents"
        };
        // Caregivers: a relative or parent for most; a shelter has staff, not a caregiver record.
        let carer = if current == "temporary_care_facility" {
            None
        } else {
            let female = pct(&mut self.care_rng, 60);
            let name = adult_name(&mut self.care_rng, c.nationality, female);
            let relationship = if current == "parents" {
                if female {
                    "mother"
                } else {
                    "father"
                }
            } else if female {
                "aunt"
            } else {
                "uncle"
            };
            let willing = weighted(&mut self.care_rng, &[("yes", 70), ("yes_with_support", 25), ("no", 5)]);
            let mut v = json!({
                "caregiver_name": name,
                "relationship": relationship,
                "caregiver_sex": if female { "female" } else { "male" },
                "caregiver_age": self.care_rng.gen_range(24..60),
                "caregiver_phone": format!("+000 {:04} {:04}", self.care_rng.gen_range(0..10_000), self.care_rng.gen_range(0..10_000)),
                "caregiver_address": format!("Host household, {} (see case file)", c.office),
                "id_document_type": (["national_id", "passport", "residence_permit", "refugee_asylum_document", "none"][self.care_rng.gen_range(0..5)]),
                "willing_to_continue": willing,
                "main_caregiver": true,
                "recorded_date": ymd(p.t),
            });
            if v["id_document_type"] != json!("none") {
                v["id_document_number"] = json!(format!("X{:07}", self.care_rng.gen_range(0..10_000_000)));
            }
            if willing != "yes" {
                v["willingness_notes"] = json!(if willing == "no" {
                    "Cannot keep the child beyond the school term."
                } else {
                    "Needs help with food and school costs."
                });
            }
            let item = new_v7(p.t, &mut self.care_rng);
            p.save_item(Actor::Caseworker, "caregiver", item, v);
            Some(name)
        };
        // Placement history: the arrangement at registration; a third of
        // the unaccompanied children came from an emergency foster family.
        let area = office_area(c.office);
        let placement = |rng: &mut StdRng, p: &mut CasePlan, v: Value| {
            let item = new_v7(p.t, rng);
            let mut v = v;
            if let Some(a) = area {
                v["placement_admin_area"] = json!(a);
            }
            p.save_item(Actor::Caseworker, "placement", item, v);
        };
        let moved = current == "temporary_care_facility" && pct(&mut self.care_rng, 33);
        let first_start = ymd(reg - DAY);
        if moved {
            let moved_on = reg - DAY;
            let foster_carer = adult_name(&mut self.care_rng, c.nationality, true);
            placement(
                &mut self.care_rng,
                p,
                json!({
                    "care_arrangement": "emergency_foster_care",
                    "caregiver": person(&foster_carer, "foster carer", "Child protection authority"),
                    "start_date": ymd(reg - 20 * DAY), "end_date": ymd(moved_on), "change_reason": "first_arrangement",
                }),
            );
            let mut v = json!({
                "care_arrangement": current, "caregiver": person(&format!("{} reception centre", c.office), "facility", "NGO"),
                "facility_name": format!("{} reception centre", c.office),
                "start_date": ymd(moved_on), "change_reason": "planned_move",
            });
            if pct(&mut self.care_rng, 85) {
                v["status_reviewed_date"] = json!(ymd(reg));
                v["status_after_review"] = json!(if c.unaccompanied { "unaccompanied" } else { "separated" });
            }
            placement(&mut self.care_rng, p, v);
        } else {
            let mut v =
                json!({"care_arrangement": current, "start_date": first_start, "change_reason": "first_arrangement"});
            match &carer {
                Some(name) => v["caregiver"] = person(name, "caregiver", "Family"),
                None => {
                    v["caregiver"] = person(&format!("{} reception centre", c.office), "facility", "NGO");
                    v["facility_name"] = json!(format!("{} reception centre", c.office));
                }
            }
            placement(&mut self.care_rng, p, v);
        }
    }

    /// The rest of the whole case record after the assessment: an age
    /// assessment for an age in doubt (some disputed, R13), incidents on the
    /// journey, schooling and a case conference for some.
    fn whole_record(&mut self, p: &mut CasePlan, c: &Child, risk: &str, staff: &Staff) {
        let uasc = c.case_type == "uasc";
        let reg = self.registered_at.min(p.t);
        // Age assessment where the age is in doubt, and for some older
        // children with no document.
        if c.age_basis == "disputed" || (c.age >= 15 && c.dob.is_none() && pct(&mut self.care_rng, 20)) {
            let disputed = c.age_basis == "disputed" || pct(&mut self.care_rng, 30);
            let declared = c.age;
            let assessed = (c.age + self.care_rng.gen_range(0..3)).min(19);
            let mut v = json!({
                "declared_age": declared,
                "assessment_date": ymd(p.t),
                "assessed_age": assessed,
                "assessment_method": ["document_check", "holistic_interview"],
                "assessed_by": person(&staff.supervisor, "supervisor", "IOM"),
                "benefit_of_doubt": assessed > declared,
                "disputed": disputed,
            });
            if disputed {
                v["dispute_details"] =
                    json!("The child and the guardian contest the assessed age; a review is requested.");
            }
            p.save(Actor::Caseworker, "age_assessment", v);
        }
        // Incidents on the journey: every trafficked child, some others.
        if c.vot || (uasc && pct(&mut self.care_rng, 15)) {
            let reported = pct(&mut self.care_rng, 40);
            let mut v = json!({
                "incident_date": ymd(reg - DAY * self.care_rng.gen_range(10..200)),
                "violence_type": if c.vot { "exploitation_trafficking" } else { ["physical_violence", "emotional_abuse", "denial_of_resources"][self.care_rng.gen_range(0..3)] },
                "perpetrator_relationship": if c.vot { "smuggler_trafficker" } else { ["official", "fellow_traveller", "stranger", "unknown"][self.care_rng.gen_range(0..4)] },
                "incident_place": "On the route, before arrival",
                "reported": reported,
                "services_offered": ["basic_psychosocial", "medical"],
            });
            if reported {
                v["reported_to"] = json!(["un_ngo"]);
            } else {
                v["not_reported_reason"] = json!("Fear of the people who arranged the journey.");
            }
            let item = new_v7(p.t, &mut self.care_rng);
            p.save_item(Actor::Caseworker, "incident", item, v);
        }
        // Schooling for children of school age.
        if c.age >= 6 {
            let attending = pct(&mut self.care_rng, 55);
            let mut v = json!({"checked_date": ymd(p.t), "attending": attending});
            if attending {
                v["education_type"] = json!(if c.age >= 15 {
                    "vocational_training"
                } else if uasc {
                    "language_class"
                } else {
                    "primary"
                });
                v["institution"] = json!(format!("{} learning centre", c.office));
            } else {
                let reason = ["no_place", "documents_required", "language", "in_transit", "working"]
                    [self.care_rng.gen_range(0..5)];
                v["not_attending_reasons"] = json!([reason]);
            }
            let item = new_v7(p.t, &mut self.care_rng);
            p.save_item(Actor::Caseworker, "education", item, v);
        }
        // A case conference for every high-risk case and some others.
        if risk == "high" || pct(&mut self.care_rng, 15) {
            let item = new_v7(p.t, &mut self.care_rng);
            p.save_item(Actor::Caseworker, "case_conference", item, json!({
                "conference_date": ymd(p.t),
                "conference_type": if risk == "high" { "emergency" } else { "multidisciplinary" },
                "participants": [
                    {"participant_name": staff.caseworker, "participant_role": "caseworker", "participant_organisation": "IOM"},
                    {"participant_name": staff.supervisor, "participant_role": "supervisor", "participant_organisation": "IOM"},
                    {"participant_name": "Health focal point", "participant_role": "health", "participant_organisation": "Clinic"},
                ],
                "child_participated": c.age >= 12,
                "decisions": "Agreed the safety measures and who follows up each action of the plan.",
                "next_conference_date": ymd(p.t + 30 * DAY),
            }));
        }
    }

    /// A case plan review: progress against the goals.
    fn case_plan_review(&mut self, p: &mut CasePlan) {
        let changed = pct(&mut self.record_rng, 20);
        p.save(Actor::Caseworker, "case_plan", json!({
            "reviews": [{"review_date": ymd(p.t), "progress": "Actions under way; the child is settled.", "plan_changed": changed}],
            "next_review_date": ymd(p.t + 60 * DAY),
        }));
    }

    fn bia(&mut self, p: &mut CasePlan, c: &Child, wants_tracing: &str, bid_required: bool, staff: &Staff) {
        let uasc = c.case_type == "uasc";
        p.after_days(days_around(&mut self.rng, 5.0, 1.0, 30.0));
        p.stage(Actor::Caseworker, Stage::BiaInProgress, "BIA interview started");
        let risk = weighted(&mut self.rng, &[("high", 20), ("medium", 45), ("low", 35)]);
        let mut concerns = vec![if uasc {
            if c.unaccompanied {
                "unaccompanied"
            } else {
                "separated"
            }
        } else {
            "psychosocial_distress"
        }];
        if c.vot {
            concerns.push("trafficking");
        }
        if pct(&mut self.rng, 20) {
            concerns.push("lack_of_documentation");
        }
        let level = |rng: &mut StdRng| ["no_concern", "some_concern", "serious_concern"][rng.gen_range(0..3)];
        let mut v = json!({
            "wellbeing_safety": level(&mut self.rng), "wellbeing_health": level(&mut self.rng), "wellbeing_nutrition": "no_concern",
            "wellbeing_psychosocial": level(&mut self.rng), "wellbeing_education": "some_concern", "wellbeing_documentation": "some_concern",
            "wellbeing_family_relationships": level(&mut self.rng), "wellbeing_community": "no_concern",
            "protection_concerns": concerns,
            "risk_level": risk,
            "risk_reasons": "Assessed at interview; see protection concerns.",
            "bia_recommended_actions": if wants_tracing == "yes" { json!(["tracing", "mhpss", "education"]) } else { json!(["mhpss", "education", "bid_referral"]) },
            "bid_required": bid_required,
            "bia_completed_on": ymd(p.t + 2 * DAY),
            "next_review_date": ymd(p.t + if risk == "high" { 7 } else { 30 } * DAY),
            "bia_approval_status": "pending",
        });
        if c.age < 6 {
            v["views_not_obtained_reason"] = json!("age");
            v["child_views"] = json!("Too young to be interviewed; observed calm with caregiver.");
        } else {
            v["child_views"] = json!(if c.vot {
                "Wants to be safe and to contact her mother."
            } else {
                "Wants to go to school and contact family."
            });
            v["heard_alone"] = json!(true);
        }
        if uasc {
            v["wants_tracing"] = json!(wants_tracing);
            v["wants_reunification"] = json!(if wants_tracing == "yes" { "yes_later" } else { "no" });
            if wants_tracing != "yes" {
                v["wants_reunification_reason"] = json!("Fears the relative who arranged the journey.");
            }
            v["guardian_appointed"] = json!(true);
            let female_guardian = pct(&mut self.rng, 50);
            v["guardian"] = person(
                &adult_name(&mut self.rng, c.nationality, female_guardian),
                "guardian",
                "Child protection authority",
            );
            v["guardian_appointment_date"] = json!(ymd(p.t + DAY));
        }
        if bid_required {
            v["bid_direction"] = json!(if uasc { "durable_solution_uasc" } else { "exceptional_care_decision" });
        }
        // A complete BIA (the conditional fields of F1): a note for every
        // wellbeing area of concern, and the family of a child on their own.
        for area in [
            "safety",
            "health",
            "nutrition",
            "psychosocial",
            "education",
            "documentation",
            "family_relationships",
            "community",
        ] {
            if matches!(v[format!("wellbeing_{area}")].as_str(), Some("some_concern" | "serious_concern")) {
                v[format!("wellbeing_{area}_notes")] = json!("Discussed with the child; follow-up in the case plan.");
            }
        }
        v["caregiver_views"] = json!("The caregiver supports the plan and asks for help with school costs.");
        // A child on their own who named no parent at registration names
        // the relative they know of (F1 family members are asked of a UASC).
        if uasc && !self.last_family {
            let female = self.bia_rng.gen_range(0..2) == 0;
            let relative = adult_name(&mut self.bia_rng, c.nationality, female);
            v["family_members"] = json!([{
                "name": relative, "relationship": "other_family", "alive": "unknown",
                "last_known_location": c.place, "in_contact": false,
            }]);
        }
        p.save(Actor::Caseworker, "registration_bia", v);
        self.protection_concerns(p, &concerns);
        if risk == "high" {
            self.safety_contact(p, &staff.caseworker);
        }
        p.after_days(days_around(&mut self.rng, 3.0, 1.0, 12.0));
        p.save(
            Actor::Supervisor,
            "registration_bia",
            json!({"bia_approval": signed(&staff.supervisor, p.t), "bia_approval_status": "approved"}),
        );
        p.stage(Actor::Supervisor, Stage::BiaCompleted, "BIA signed");
        self.case_plan(p, c, risk, staff);
        self.whole_record(p, c, risk, staff);
        // Children in a shelter: the facility's minimum-standards check (F5).
        if uasc && c.unaccompanied && pct(&mut self.rng, 40) {
            let item = self.item_id(p.t);
            let mut f5 = json!({
                "provider_type": "ngo_facility",
                "facility_name": format!("{} reception centre", c.office),
                "staff_child_ratio": 8,
                "assessor": person(&staff.supervisor, "supervisor", "IOM"),
                "date": ymd(p.t),
                "result": if pct(&mut self.rng, 80) { "meets" } else { "meets_with_actions" },
            });
            for k in [
                "registered_authorised",
                "safeguarding_policy",
                "staff_vetting",
                "carer_training",
                "not_detention",
                "sex_age_separation",
                "sibling_unity",
                "individual_case_file",
                "health_access",
                "education_access",
                "recreation",
                "privacy_belongings",
                "information_language",
                "complaints_mechanism",
                "contact_family",
                "max_stay_review",
            ] {
                f5[k] = json!(true);
            }
            p.save_item(Actor::Caseworker, "temporary_care", item, f5);
        }
        // Most high-risk children are downgraded by a supervisor within
        // weeks; 10% stay high (docs/domain.md, Demo data).
        if risk == "high" && pct(&mut self.rng, 90) {
            p.after_days(self.rng.gen_range(10..40));
            p.save(
                Actor::Supervisor,
                "registration_bia",
                json!({"risk_level": "medium", "risk_reasons": "Safe placement; threats receded."}),
            );
        }
    }

    /// A child rated high risk must be seen within 24 hours (docs/domain.md, Deadlines and tasks;
    /// indicator 5). Most are: a contact or visit note 1–18 h after the
    /// rating; about one in five is seen only at the next planned contact, so
    /// the indicator is neither 0 nor 100 % on demo data.
    fn safety_contact(&mut self, p: &mut CasePlan, cw: &str) {
        if !pct(&mut self.safety_rng, 80) {
            return;
        }
        p.t += self.safety_rng.gen_range(1..=18) * HOUR;
        let kind = ["contact", "home_visit", "office_visit"][self.safety_rng.gen_range(0..3)];
        let at = chrono::DateTime::from_timestamp_millis(p.t as i64 + 10 * 60_000).unwrap_or_default();
        let values = json!({
            "note_datetime": at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "author": person(cw, "caseworker", "IOM"),
            "note_type": kind,
            "subject": "Safety check after high-risk rating",
            "text": "Saw the child; immediate safety discussed; placement secured until the next review.",
            "restricted": false,
        });
        p.push(Actor::Caseworker, Op::Note(obj(values)));
    }

    fn notes(&mut self, p: &mut CasePlan, cw: &str, n: usize, span_days: u64) {
        let start = p.t;
        for i in 0..n {
            let at = start + (span_days * DAY * (i as u64 + 1)) / (n as u64 + 1);
            let kind = ["contact", "phone", "home_visit", "office_visit", "case_conference", "tracing_update"]
                [self.rng.gen_range(0..6)];
            let values = json!({
                "note_datetime": format!("{}T10:00:00Z", ymd(at)),
                "author": person(cw, "caseworker", "IOM"),
                "note_type": kind,
                "subject": "Follow-up contact",
                "text": "Met the child; situation discussed; next steps agreed.",
                "restricted": i % 17 == 5,
            });
            p.t = p.t.max(at);
            p.push(Actor::Caseworker, Op::Note(obj(values)));
        }
    }

    fn referrals(&mut self, p: &mut CasePlan, n: usize) {
        for _ in 0..n {
            p.after_days(self.rng.gen_range(2..20));
            let service = [
                "medical",
                "basic_psychosocial",
                "education_non_formal",
                "legal_aid_asylum",
                "documentation_civil_registration",
                "food",
                "focused_mhpss",
            ][self.rng.gen_range(0..7)];
            let implemented = pct(&mut self.rng, 70);
            // From the sample directory: a provider of the service, else any.
            let config = crate::country::sample();
            let offering = crate::country::providers_for(config, service, None);
            let provider = match offering.first() {
                Some(p) => p.provider_id.clone(),
                None => config.services[self.rng.gen_range(0..config.services.len())].provider_id.clone(),
            };
            let mut v = json!({
                "referral_date": ymd(p.t), "service_type": service, "urgency": (["1_day", "3_days", "routine"][self.rng.gen_range(0..3)]),
                "internal_external": "external", "provider_id": provider, "reason": "Need identified in BIA.",
                "expected_outcome": "Service received.", "consent_for_referral": signed("child", p.t),
                "information_shared": ["name_age_sex", "case_summary"], "status": if implemented { "implemented" } else { "pending" },
            });
            if implemented {
                v["implemented_date"] = json!(ymd(p.t + 7 * DAY));
                v["feedback"] = json!("Service provided.");
            }
            // The whole record: response, appointment, outcome and the
            // service's follow-up (own random stream).
            let direct = matches!(service, "basic_psychosocial" | "education_non_formal");
            v["response_type"] = json!(if direct { "service_provided_directly" } else { "referral" });
            let appointment = date_of(p.t + 2 * DAY).and_hms_opt(10, 30, 0).unwrap_or_default().and_utc();
            v["appointment_datetime"] = json!(appointment.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
            let disposition = if implemented {
                Some("service_received")
            } else {
                match self.record_rng.gen_range(0..10) {
                    0..=3 => Some("service_unavailable"),
                    4..=5 => Some("already_received_elsewhere"),
                    _ => None,
                }
            };
            if let Some(d) = disposition {
                v["disposition"] = json!(d);
                v["disposition_date"] = json!(ymd(p.t + 7 * DAY));
            }
            if implemented && pct(&mut self.record_rng, 50) {
                v["follow_up_date"] = json!(ymd(p.t + 14 * DAY));
                v["follow_up_action"] = json!("Checked with the child that the service helped; no further action.");
            }
            p.push(Actor::Caseworker, Op::Referral(obj(v)));
        }
    }

    fn tracing_item(&mut self, p: &mut CasePlan, c: &Child, located: bool, staff: &Staff) -> (Uuid, String) {
        let item = self.item_id(p.t);
        let relative = adult_name(&mut self.rng, c.nationality, true);
        p.after_days(1);
        p.stage(Actor::Caseworker, Stage::Tracing, "child wants family traced; safe");
        let mut actions = vec![
            json!({"date": ymd(p.t), "action_type": "phone_social_media", "location": c.place, "by_office": c.office, "outcome": "unsuccessful"}),
            json!({"date": ymd(p.t + 3 * DAY), "action_type": "cross_border_request", "location": c.place, "by_office": c.coo_office, "outcome": "pending"}),
        ];
        p.save_item(
            Actor::Caseworker,
            "family_tracing",
            item,
            json!({
                "relative": person(&relative, "mother", ""), "relationship": "mother", "relative_alive": "alive",
                "child_consents_contact": true, "tracing_status": "in_progress", "tracing_safety_check": "safe",
                "tracing_actions": actions.clone(), "last_known_location": c.place,
            }),
        );
        let found_after = days_around(&mut self.rng, 45.0, 7.0, 200.0);
        p.after_days(found_after);
        if located {
            actions[1]["outcome"] = json!("successful");
            actions.push(json!({"date": ymd(p.t - DAY), "action_type": "referral_rc_rfl", "location": c.place, "by_office": c.coo_office, "outcome": "successful"}));
            p.save_item(
                Actor::Caseworker,
                "family_tracing",
                item,
                json!({
                    "tracing_status": "family_located", "date_family_located": ymd(p.t), "tracing_actions": actions,
                }),
            );
            p.stage(Actor::Caseworker, Stage::FamilyAssessment, "mother located");
        } else {
            p.save_item(Actor::Caseworker, "family_tracing", item, json!({"tracing_status": "unsuccessful_closed"}));
        }
        let _ = staff;
        (item, relative)
    }

    fn assess_and_verify(&mut self, p: &mut CasePlan, c: &Child, item: Uuid, relative: &str, staff: &Staff) {
        p.after_days(days_around(&mut self.rng, 20.0, 7.0, 45.0));
        p.save_item(Actor::Caseworker, "family_tracing", item, json!({
            "assessment_date": ymd(p.t), "assessor": person(&format!("cp.{}", c.coo_office.to_lowercase().replace(' ', "")), "social worker", "CoO child protection"),
            "willingness": "yes", "capacity": if pct(&mut self.rng, 50) { "adequate" } else { "adequate_with_support" },
            "safeguarding_concerns": ["none"], "circumstances_of_departure": "Left to find work; family did not agree.",
            "economic_situation": "Subsistence farming; irregular income.", "family_needs": ["cash", "education_formal"],
            "family_views": "Wants the child back and in school.", "assessment_recommendation": "reunify_with_support",
        }));
        p.stage(Actor::Caseworker, Stage::Verification, "family assessment recorded");
        p.after_days(days_around(&mut self.rng, 14.0, 3.0, 40.0));
        let v_item = self.item_id(p.t);
        p.save_item(Actor::Caseworker, "verification", v_item, json!({
            "relative": person(relative, "mother", ""), "verification_date": ymd(p.t), "method": ["separate_interviews", "photos_recognised"],
            "child_knows_adult": true, "information_matches": "fully", "relationship_verified": true, "adult_wants_child": true,
            "adult_able_to_care": "adequate_with_support", "child_wishes_reunification": "yes", "verification_outcome": "verified",
            "verified_by": signed(&staff.caseworker, p.t),
        }));
        p.save_item(Actor::Caseworker, "family_tracing", item, json!({"tracing_status": "verified"}));
    }

    fn bid(&mut self, p: &mut CasePlan, c: &Child, solution: &'static str, staff: &Staff) {
        let other = if solution == "local_integration" { "return_reintegration" } else { "local_integration" };
        p.after_days(days_around(&mut self.rng, 10.0, 2.0, 40.0));
        let mut submission = json!({
            "bid_id": format!("BID-{}", p.case + 1), "version": "1", "bid_purpose": "durable_solution",
            "bid_location": if solution == "return_reintegration" { "joint" } else { "host_country" },
            "priority": "medium", "submission_report": "History, BIA, tracing and verification findings summarised.",
            "child_interview": ymd(p.t), "child_interview_participants": ["child", "caseworker", "interpreter"],
            "child_interview_language": c.language, "child_heard_alone": c.age >= 6,
            "criteria_safety": "Assessed per option.", "criteria_socioeconomic": "Assessed per option.", "criteria_care": "Family-based care available.",
            "criteria_views": "The child's wishes weighed by age and maturity.", "criteria_integration": "Time away from home considered.",
            "criteria_family_unity": "Siblings at home.",
            "options_considered": [
                {"durable_solution": solution, "pros": "Matches child's wish.", "cons": "Costs.", "risks": "Mitigated."},
                {"durable_solution": other, "pros": "Stability.", "cons": "Separation from family.", "risks": "Isolation."}
            ],
            "caseworker_recommendation": solution,
        });
        // An unaccompanied child's guardian is heard (F4, conditional).
        if c.case_type == "uasc" && c.unaccompanied {
            submission["guardian_view"] = json!("The guardian supports the recommended solution.");
            submission["guardian_present"] = json!(true);
        }
        p.save(Actor::Caseworker, "bid", submission);
        p.after_days(2);
        p.stage(Actor::Supervisor, Stage::BidPending, "submission approved and sent to the panel");
        p.after_days(days_around(&mut self.rng, 25.0, 7.0, 90.0));
        let members: Vec<Value> = (0..self.rng.gen_range(3..6))
            .map(|i| json!({
                "member": person(&if i == 0 { staff.panel_chair.clone() } else { format!("member{i}.{}", staff.panel_chair) }, "panel", ["IOM", "UNICEF", "Social welfare"][i % 3]),
                "organisation": (["IOM", "UNICEF", "Social welfare"][i % 3]), "role": if i == 0 { "chair" } else { "member" },
                "voting": true, "conflict_of_interest_declared": false, "present": true
            }))
            .collect();
        if pct(&mut self.rng, 8) {
            p.save(
                Actor::Panel,
                "bid",
                json!({"panel_date": ymd(p.t), "panel_members": members.clone(), "panel_decision": "deferred"}),
            );
            p.after_days(self.rng.gen_range(14..40));
        }
        let mut decision = json!({
            "panel_date": ymd(p.t), "panel_members": members, "panel_decision": "approves_recommendation",
            "decided_solution": solution, "decision_reasons": "In the child's best interests on safety, care and the child's views.",
            "follow_up_actions": [{"action": "Prepare implementation", "responsible": staff.caseworker, "deadline": ymd(p.t + 30 * DAY)}],
            "chair_signature": signed(&staff.panel_chair, p.t),
        });
        if pct(&mut self.rng, 10) {
            decision["dissent"] = json!([{"member": person(&format!("member1.{}", staff.panel_chair), "panel", "UNICEF"), "reasons": "Would prefer a longer family preparation period."}]);
        }
        p.save(Actor::Panel, "bid", decision);
        p.stage(Actor::Panel, Stage::BidDecided, "panel decision recorded");
        self.last_solution = solution;
    }

    fn plan_uasc(&mut self, p: &mut CasePlan, c: &Child, staff: &Staff) -> Option<u64> {
        self.reunify = None;
        let o = c.corridor.outcomes;
        let outcome = weighted(
            &mut self.rng,
            &[
                (Outcome::Return, o[0]),
                (Outcome::ReunifyDestination, if c.unaccompanied { 0 } else { o[1] }),
                (Outcome::LocalIntegration, o[2] + if c.unaccompanied { o[1] } else { 0 }),
                (Outcome::ThirdCountry, o[3]),
                (Outcome::Absconded, o[4]),
            ],
        );
        let refuses = outcome == Outcome::LocalIntegration && pct(&mut self.rng, 30);
        self.bia(p, c, if refuses { "no" } else { "yes" }, outcome != Outcome::ReunifyDestination, staff);
        let notes = self.rng.gen_range(2..6);
        self.notes(p, &staff.caseworker, notes, 20);
        let n_ref = self.rng.gen_range(1..4);
        self.referrals(p, n_ref);
        self.case_plan_review(p);
        if outcome == Outcome::Absconded {
            // Absconds while tracing; some are found again, most are closed
            // after three months without contact.
            let (_item, _rel) = self.tracing_item(p, c, false, staff);
            return self.abscond(p, c, staff, Stage::Tracing);
        }
        if refuses {
            // The child refuses tracing: record the hold, refer to the BID directly.
            let item = self.item_id(p.t);
            p.save_item(Actor::Caseworker, "family_tracing", item, json!({
                "relative": person(&adult_name(&mut self.rng, c.nationality, false), "uncle", ""), "relationship": "uncle", "relative_alive": "alive",
                "child_consents_contact": false, "tracing_status": "on_hold_child_objects", "tracing_safety_check": "unsafe_family_implicated",
            }));
            self.bid(p, c, "local_integration", staff);
        } else {
            let located = matches!(outcome, Outcome::Return | Outcome::ReunifyDestination) || pct(&mut self.rng, 20);
            let (item, relative) = self.tracing_item(p, c, located, staff);
            if located {
                self.assess_and_verify(p, c, item, &relative, staff);
            }
            match outcome {
                Outcome::ReunifyDestination => {
                    self.reunify = Some((relative, false));
                    self.plan_reintegration(p, c, staff, None);
                    p.after_days(2);
                    p.stage(
                        Actor::Supervisor,
                        Stage::SolutionInProgress,
                        "reunification with verified mother in the same country",
                    );
                    return self.arrive_and_follow(p, c, staff);
                }
                Outcome::Return => {
                    if !located {
                        return None;
                    }
                    self.reunify = Some((relative, true));
                    p.after_days(2);
                    self.bid(p, c, "return_reintegration", staff);
                }
                Outcome::LocalIntegration | Outcome::ThirdCountry => {
                    let sol = if outcome == Outcome::ThirdCountry {
                        "third_country_resettlement"
                    } else {
                        "local_integration"
                    };
                    self.bid(p, c, sol, staff);
                }
                Outcome::Absconded => unreachable!("handled above"),
            }
        }
        let solution = self.last_solution;
        if solution != "return_reintegration" {
            self.reunify = None;
        }
        // Transfer to the CoO office after a return decision (10–20% of UASC).
        if solution == "return_reintegration" && pct(&mut self.rng, 15) {
            p.after_days(5);
            // R4: the child consents again, now to the transfer too (a new
            // dated consent supersedes the registration's, R10).
            p.save(
                Actor::Caseworker,
                "registration_bia",
                json!({
                    "consent": signed(if c.age >= 15 { "child" } else { "guardian" }, p.t),
                    "consent_scopes": ["case_management", "data_collection_storage", "tracing_disclosure", "referral_sharing", "cross_border_transfer"],
                }),
            );
            p.save(
                Actor::Caseworker,
                "closure_transfer",
                json!({
                    "transfer_to": format!("IOM {}", c.coo_office), "transfer_reason": "returned_to_coo",
                    "transfer_consent": signed("child", p.t), "transfer_status": "requested",
                }),
            );
            p.after_days(self.rng.gen_range(3..20));
            p.save(Actor::DataManager, "closure_transfer", json!({"transfer_status": "accepted"}));
            p.push(Actor::DataManager, Op::Transferred { to: format!("IOM {}", c.coo_office) });
            p.stage(Actor::DataManager, Stage::TransferredOut, "accepted by the receiving office");
            self.reunify = None;
            return None;
        }
        self.plan_reintegration(p, c, staff, Some(solution));
        p.after_days(days_around(&mut self.rng, 10.0, 2.0, 40.0));
        p.stage(Actor::Supervisor, Stage::SolutionInProgress, "implementation launched");
        self.arrive_and_follow(p, c, staff)
    }

    fn plan_reintegration(&mut self, p: &mut CasePlan, c: &Child, staff: &Staff, solution: Option<&'static str>) {
        p.after_days(days_around(&mut self.rng, 7.0, 2.0, 30.0));
        if solution == Some("return_reintegration") {
            let items: Vec<Value> = ["a_bid_approves_return", "b_guardian_notified", "c_family_verified_willing_able", "d_return_risk_assessed", "e_child_views_recorded", "f_receiving_actor_and_plan"]
                .iter()
                .map(|k| json!({"item": k, "done": true, "date": ymd(p.t), "evidence": if *k == "b_guardian_notified" { "Letter handed to the guardian; phone call" } else { "See case file" }}))
                .collect();
            p.save(Actor::Caseworker, "bid", json!({"pre_return_checklist": items}));
        }
        let plan = if c.case_type == "uasc" { "reintegration_uasc" } else { "reintegration_family" };
        let mut v = json!({
            "plan_date": ymd(p.t), "author": person(&staff.caseworker, "caseworker", "IOM"),
            "receiving_actor": person(&format!("CP officer {}", c.coo_office), "child protection officer", "Social welfare"),
            "arrival_arrangements": if c.female { "Escorted by a female escort; handed over to the mother at arrival." } else { "Escorted; handed over to the family at arrival." },
            "care_on_return": "parents", "family_preparation": "Two counselling sessions with the family before return.",
            "actions": [
                {"dimension": "education", "action": "School re-enrolment", "service_type": "education_formal", "responsible": "CoO caseworker", "due": ymd(p.t + 60 * DAY), "status": "planned"},
                {"dimension": "economic", "action": "Reintegration grant", "service_type": "reintegration_grant_iga", "responsible": "IOM", "due": ymd(p.t + 90 * DAY), "status": "planned", "cost": 500}
            ],
            "risk_mitigation": "Re-trafficking and debt risks assessed; community leaders engaged.",
            "monitoring_schedule": [{"due": ymd(p.t + 30 * DAY)}],
            "child_participation": "The child chose the school and the grant activity.",
            "signatures": [{"signatory": "child_assent", "signature": signed("child", p.t)}, {"signatory": "caseworker", "signature": signed(&staff.caseworker, p.t)}],
        });
        if let Some(s) = solution {
            v["bid_ref"] = json!(format!("BID-{} ({s})", p.case + 1));
        }
        // R14: a family travels together; an unaccompanied or separated
        // girl has a female escort. No draw, so the other records stay as
        // they were.
        if plan == "reintegration_family" {
            v["escort_sex"] = json!("none_needed");
            v["no_escort_reason"] = json!("travels_with_family");
        } else {
            v["escort_sex"] = json!(if c.female { "female" } else { "male" });
        }
        if c.age >= 6 && v.get("education_plan").is_none() {
            v["education_plan"] = json!("School re-enrolment in the autumn term, with catch-up classes.");
        }
        if plan == "reintegration_family" {
            v["household_members"] = json!([{"person": person("Head of household", "parent", ""), "relationship": "mother", "head_of_household": true}]);
            v["household_vulnerabilities"] = json!(["single_caregiver"]);
            v["per_child_needs"] = json!([{"child": "all children", "education": "School enrolment"}]);
            v["economic_reintegration"] = json!("Caregiver livelihood grant and training.");
        }
        p.save(Actor::Caseworker, plan, v);
    }

    /// The reunification as it happened: most with the verified relative;
    /// some children rejoined another adult on their own first (spontaneous,
    /// to be verified after the fact: a task).
    fn reunification_record(&mut self, p: &mut CasePlan, c: &Child, relative: &str, returned: bool) {
        let item = new_v7(p.t, &mut self.record_rng);
        let place = if returned { c.place.to_string() } else { c.office.to_string() };
        let mut v = json!({"reunification_date": ymd(p.t), "reunification_place": place});
        if let Some(area) = office_area(c.office).filter(|_| !returned) {
            v["reunification_admin_area"] = json!(area);
        }
        if pct(&mut self.record_rng, 15) {
            let uncle = adult_name(&mut self.record_rng, c.nationality, false);
            v["reunified_with"] = person(&uncle, "uncle", "");
            v["relationship"] = json!("uncle");
            v["reunification_type"] = json!("spontaneous");
            v["verified_adult"] = json!(false);
            v["not_verified_adult_reason"] =
                json!("The child went to an uncle on arrival, before the handover to the verified relative.");
        } else {
            v["reunified_with"] = person(relative, "mother", "");
            v["relationship"] = json!("mother");
            v["reunification_type"] = json!("after_verification");
            v["verified_adult"] = json!(true);
        }
        p.save_item(Actor::Caseworker, "reunification", item, v);
    }

    /// Arrival, plan approval, follow-up visits and maybe closure. Returns
    /// the reintegration time.
    fn arrive_and_follow(&mut self, p: &mut CasePlan, c: &Child, staff: &Staff) -> Option<u64> {
        p.after_days(days_around(&mut self.rng, 30.0, 5.0, 90.0));
        p.stage(Actor::Caseworker, Stage::Reintegration, "child arrived and handed over to the family");
        let t0 = p.t;
        if let Some((relative, returned)) = self.reunify.take() {
            self.reunification_record(p, c, &relative, returned);
        }
        let plan = if c.case_type == "uasc" { "reintegration_uasc" } else { "reintegration_family" };
        p.after_days(self.rng.gen_range(2..8));
        p.save(
            Actor::Supervisor,
            plan,
            json!({"signatures": [
                {"signatory": "child_assent", "signature": signed("child", t0)},
                {"signatory": "caseworker", "signature": signed(&staff.caseworker, t0)},
                {"signatory": "supervisor", "signature": signed(&staff.supervisor, p.t)}
            ]}),
        );
        p.stage(Actor::Supervisor, Stage::FollowUp, "reintegration plan approved");
        // Monitoring length: 25% to +30 months, 50% stop at 6–9 months, 25% earlier.
        let horizon = weighted(&mut self.rng, &[(10usize, 25), (6, 50), (3, 25)]);
        let schedule = crate::model::tasks::follow_up_schedule(date_of(t0));
        let mut last_seen = t0;
        for s in schedule.iter().take(horizon) {
            let roll = self.rng.gen_range(0..100);
            if roll < 8 {
                continue; // missed
            }
            let late = roll < 23;
            let date = if late {
                s.deadline() + chrono::Days::new(self.rng.gen_range(3..20))
            } else {
                s.due + chrono::Days::new(self.rng.gen_range(0..s.grace_days))
            };
            let at = ms(date);
            if at <= p.t {
                continue;
            }
            p.t = at;
            let seen = !pct(&mut self.rng, 10);
            let mut v = json!({
                "visit_due": s.due.format("%Y-%m-%d").to_string(), "visit_date": ymd(at), "follow_up_type": "after_reunification_return",
                "method": if s.number >= 8 && pct(&mut self.rng, 40) { "phone" } else { "scheduled_home_visit" },
                "child_seen": seen, "care_arrangement_observed": "parents",
                "wellbeing_safety": "stable", "wellbeing_family_relations": "improved", "wellbeing_health": "stable",
                "wellbeing_education_attendance": if pct(&mut self.rng, 70) { "improved" } else { "declined" }, "wellbeing_psychosocial": "stable",
                "wellbeing_economic": "stable", "wellbeing_community_acceptance": "stable", "wellbeing_documentation": "unknown",
                "risk_level": "low", "remigration_intention": if pct(&mut self.rng, 10) { "considering" } else { "no" },
                "child_views": "Happy to be home; worried about school fees.", "caregiver_views": "Needs support with fees.",
                "recommend_closure": false, "next_visit_date": ymd(at + 30 * DAY),
            });
            if seen {
                v["seen_alone"] = json!(true);
                last_seen = at;
            } else {
                v["not_seen_reason"] =
                    json!([(["working", "at_school", "visiting_relatives"][self.rng.gen_range(0..3)])]);
            }
            p.push(Actor::Caseworker, Op::Visit(obj(v)));
            if pct(&mut self.rng, 60) {
                let note = json!({
                    "note_datetime": format!("{}T15:00:00Z", ymd(at)),
                    "author": person(&staff.caseworker, "caseworker", "IOM"),
                    "note_type": "home_visit",
                    "subject": format!("Follow-up visit {}", s.number),
                    "text": "Visit notes: school attendance, family relations and plan actions reviewed.",
                    "linked_record": format!("follow_up_visit {}", s.number),
                });
                p.push(Actor::Caseworker, Op::Note(obj(note)));
            }
        }
        if horizon == 3 && pct(&mut self.rng, 60) {
            // Lost contact or re-migration.
            return self.lose_contact(p, staff, last_seen, Stage::FollowUp);
        }
        p.after_days(self.rng.gen_range(10..40));
        let months = crate::model::lifecycle::months_between(date_of(t0), date_of(p.t));
        let reason = if c.age >= 17 && months >= 12 {
            "turned_18"
        } else {
            weighted(&mut self.rng, &[("goals_met", 75), ("goals_substantially_met", 15), ("other", 10)])
        };
        let mut v = json!({
            "closure_reason": reason, "closure_details": "Plan goals reviewed at the last visit.", "situation_at_closure": "Living with family, attending school.",
            "care_at_closure": "parents", "permanent": true, "discussed_with_child": true, "discussed_with_caregiver": true,
            "child_knows_whom_to_contact": true, "contact_point": "CoO caseworker hotline", "final_contact_planned": true,
        });
        if reason == "turned_18" {
            v["transition_plan"] =
                json!("Aftercare: vocational training, documents renewal, housing support until 21.");
        }
        if months < 6 {
            v["early_closure_override_reason"] = json!("Family relocated to an area without a partner.");
        }
        p.save(Actor::Caseworker, "closure_transfer", v);
        p.stage(Actor::Caseworker, Stage::ClosurePending, "closure requested");
        p.after_days(self.rng.gen_range(2..15));
        p.save(Actor::Supervisor, "closure_transfer", json!({"closure_approval": signed(&staff.supervisor, p.t)}));
        p.stage(Actor::Supervisor, Stage::Closed, "closure approved");
        // A few reintegrations break down: reopened for a new BIA.
        if pct(&mut self.rng, 6) {
            p.after_days(self.rng.gen_range(30..200));
            p.stage(Actor::Supervisor, Stage::Reopened, "breakdown of reunification reported by the CoO office");
            p.after_days(2);
            p.stage(Actor::Caseworker, Stage::BiaInProgress, "new BIA after breakdown");
        } else if pct(&mut self.rng, 90) {
            // The planned final contact, about three months after closure
            // (most are made; a case closed recently has it still ahead).
            p.after_days(self.rng.gen_range(80..100));
            let note = json!({
                "note_datetime": format!("{}T10:00:00Z", ymd(p.t)),
                "author": person(&staff.caseworker, "caseworker", "IOM"),
                "note_type": "phone",
                "subject": "Final contact after closure",
                "text": "Final contact: the child is well, at school, and knows whom to call.",
            });
            p.push(Actor::Caseworker, Op::Note(obj(note)));
        }
        Some(t0)
    }

    fn abscond(&mut self, p: &mut CasePlan, _c: &Child, staff: &Staff, stage: Stage) -> Option<u64> {
        p.after_days(self.rng.gen_range(5..60));
        let last = p.t;
        self.lose_contact(p, staff, last, stage)
    }

    fn lose_contact(&mut self, p: &mut CasePlan, staff: &Staff, last_seen: u64, previous: Stage) -> Option<u64> {
        p.after_days(self.rng.gen_range(3..20));
        p.push(Actor::Caseworker, Op::Note(obj(json!({
            "note_datetime": format!("{}T09:00:00Z", ymd(p.t)), "author": person(&staff.caseworker, "caseworker", "IOM"),
            "note_type": "phone", "subject": "Child unreachable", "text": "Phone off; shelter reports the child left. Missing-child alert shared with police.",
        }))));
        p.stage(Actor::Caseworker, Stage::SuspendedLostContact, "child left the shelter; unreachable");
        if pct(&mut self.rng, 30) {
            p.after_days(self.rng.gen_range(10..60));
            p.stage(Actor::Caseworker, previous, "child found at another shelter");
            return None;
        }
        p.after_days(self.rng.gen_range(95..140));
        p.save(Actor::Caseworker, "closure_transfer", json!({
            "closure_reason": "lost_contact", "closure_details": "No contact despite phone, shelter and partner checks.",
            "situation_at_closure": "Unknown.", "care_at_closure": "no_care_arrangement", "permanent": false,
            "discussed_with_child": false, "discussed_with_child_reason": "Child unreachable", "discussed_with_caregiver": false,
            "discussed_with_caregiver_reason": "No caregiver", "child_knows_whom_to_contact": true, "contact_point": "Office hotline", "last_contact_date": ymd(last_seen),
        }));
        p.stage(Actor::Caseworker, Stage::ClosurePending, "lost contact for over 3 months");
        if pct(&mut self.rng, 80) {
            p.after_days(self.rng.gen_range(2..10));
            p.save(Actor::Supervisor, "closure_transfer", json!({"closure_approval": signed(&staff.supervisor, p.t)}));
            p.stage(Actor::Supervisor, Stage::Closed, "closure approved");
        }
        None
    }

    fn plan_family(&mut self, p: &mut CasePlan, c: &Child, staff: &Staff) {
        self.bia(p, c, "no", false, staff);
        let n = self.rng.gen_range(2..6);
        self.notes(p, &staff.caseworker, n, 30);
        let r = self.rng.gen_range(1..5);
        self.referrals(p, r);
        if c.case_type == "accompanied_child_at_risk" && pct(&mut self.rng, 50) {
            // Services only, then closure.
            p.after_days(self.rng.gen_range(30..120));
            p.save(Actor::Caseworker, "closure_transfer", json!({
                "closure_reason": "goals_met", "closure_details": "Services delivered; no further concern.", "situation_at_closure": "Safe with parents.",
                "care_at_closure": "parents", "permanent": true, "discussed_with_child": true, "discussed_with_caregiver": true, "child_knows_whom_to_contact": true, "contact_point": "Office hotline",
            }));
            p.stage(Actor::Caseworker, Stage::ClosurePending, "goals met");
            p.after_days(self.rng.gen_range(2..10));
            p.save(Actor::Supervisor, "closure_transfer", json!({"closure_approval": signed(&staff.supervisor, p.t)}));
            p.stage(Actor::Supervisor, Stage::Closed, "closure approved");
            return;
        }
        self.reunify = None;
        self.plan_reintegration(p, c, staff, None);
        p.after_days(self.rng.gen_range(3..20));
        p.stage(Actor::Supervisor, Stage::SolutionInProgress, "family voluntary return with protection support");
        self.arrive_and_follow(p, c, staff);
    }
}

// `last_solution` lives on the planner between helper calls.
impl Planner {
    fn new(seed: u64) -> Planner {
        Planner {
            rng: StdRng::seed_from_u64(seed),
            safety_rng: StdRng::seed_from_u64(seed ^ 0x5afe_c0de_0024_0024),
            record_rng: StdRng::seed_from_u64(seed ^ 0xca5e_2ec0_2d00_0022),
            care_rng: StdRng::seed_from_u64(seed ^ 0x0ca2_e9e1_ace0_0022),
            bia_rng: StdRng::seed_from_u64(seed ^ 0x0b1a_f011_0000_0022),
            family_rng: StdRng::seed_from_u64(seed ^ 0xfa31_1e5e_0025_0025),
            last_separation: None,
            last_family: false,
            upkeep_rng: StdRng::seed_from_u64(seed ^ 0x0b5e_55ed_0027_0027),
            registered_at: 0,
            reunify: None,
            steps: Vec::new(),
            seq: 0,
            conflicts: Vec::new(),
            duplicates: 0,
            merged: 0,
            planted: Vec::new(),
            last_solution: "",
            offices: BTreeMap::new(),
        }
    }
}

/// Fill `store` with `cases` synthetic case records (about 3–8% of them
/// near-duplicate registrations of another child), deterministically for
/// `seed`. Acts as several users and roles through
/// [`CaseStore::set_actor`], so only on a vault that belongs to no office
/// ([`StoreError::ActorFixed`] otherwise); restores the store's actor and system clock
/// afterwards. No automatic checkpoint runs while generating: each one
/// rewrites the whole database, which made large demos quadratic in the
/// number of cases; the journal is durable, and the next checkpoint (at the
/// latest when the store is locked) folds it into the snapshot.
pub fn generate(store: &mut CaseStore, cases: usize, seed: u64) -> Result<DemoSummary, StoreError> {
    generate_until(store, cases, seed, end_date())
}

/// [`generate`] with a timeline that ends on `today` (the day a person
/// opens the demo: its tasks, calendar and this month's report are then
/// those of a live office). The same seed and day give the same cases.
pub fn generate_until(
    store: &mut CaseStore,
    cases: usize,
    seed: u64,
    today: NaiveDate,
) -> Result<DemoSummary, StoreError> {
    let threshold = store.set_checkpoint_bytes(u64::MAX);
    let result = generate_cases(store, cases, seed, today);
    store.set_checkpoint_bytes(threshold);
    result
}

fn generate_cases(store: &mut CaseStore, cases: usize, seed: u64, today: NaiveDate) -> Result<DemoSummary, StoreError> {
    let (orig_user, orig_role) = {
        let (u, r) = store.actor();
        (u.to_string(), r)
    };
    // Demo data acts as many people without their passphrases: only on a
    // vault of no office (refused before anything is written).
    store.set_actor(&orig_user, orig_role)?;
    let start = ms(start_date_for(today));
    let end = ms(today) + 12 * HOUR;
    let mut planner = Planner::new(seed);
    let span = end - start - 20 * DAY;

    // --- 1. plan --------------------------------------------------------
    let dup_target = ((cases as f64) * 0.05).round().max(if cases >= 20 { 1.0 } else { 0.0 }) as usize;
    let originals = cases - dup_target;
    let mut children: Vec<(Child, u64)> = Vec::new();
    for idx in 0..originals {
        let reg = start + planner.rng.gen_range(0..span);
        let mut child = draw_child(&mut planner.rng, reg);
        planner.draw_parents(&mut child);
        let staff = staff_for(child.office, child.staff_pick);
        planner.offices.insert(idx, (child.office, child.staff_pick));
        let mut p = CasePlan::new(idx, reg, planner.seq);
        {
            p.push(Actor::Caseworker, Op::Create { case_type: child.case_type, office: child.office });
            p.push(Actor::Caseworker, Op::Assign);
            planner.registration(&mut p, &child, 0, &staff.caseworker, child.age);
            p.stage(Actor::Caseworker, Stage::Registered, "registration saved with consent");
            // Plant a concurrent edit on ~7% of cases (a quarter on a protected field).
            if pct(&mut planner.rng, 7) {
                let at = p.t + 3 * DAY;
                let protected = pct(&mut planner.rng, 30);
                let (field, main, other) = if protected {
                    ("care_arrangement", json!("foster_care"), json!("kinship_extended_family"))
                } else {
                    (
                        "place_of_origin",
                        json!(format!("{} (village near)", child.place)),
                        json!(format!("{}, outskirts", child.place)),
                    )
                };
                p.after_days(3);
                p.save(Actor::Caseworker, "registration_bia", json!({ field: main }));
                planner.conflicts.push(PlannedConflict {
                    case: idx,
                    at: at + 2 * HOUR,
                    field,
                    value: other,
                    protected,
                });
            }
            if child.case_type == "uasc" {
                planner.plan_uasc(&mut p, &child, &staff);
            } else {
                planner.plan_family(&mut p, &child, &staff);
            }
            planner.upkeep(&mut p, end);
        }
        planner.seq = p.seq;
        planner.steps.append(&mut p.steps);
        child.separated = planner.last_separation;
        children.push((child, reg));
    }
    // Near-duplicates: the same child registered again at another office or
    // months later, with another spelling and age ±1.
    for k in 0..dup_target {
        let idx = originals + k;
        let orig = k * originals.max(1) / dup_target.max(1);
        let (child, reg) = children[orig].clone();
        // Registrations end 20 days before the end date, so there is room.
        let later = (reg + planner.rng.gen_range(20..300) * DAY).min(end - 10 * DAY);
        planner.duplicates += 1;
        planner.planted.push((orig, idx));
        let staff = staff_for(child.office, child.staff_pick + 1);
        planner.offices.insert(idx, (child.office, child.staff_pick + 1));
        let age = (child.age as i64 + planner.rng.gen_range(-1..=1)).clamp(0, 17) as u32;
        let variant = 1 + planner.rng.gen_range(0..4);
        let mut p = CasePlan::new(idx, later, planner.seq);
        {
            p.push(Actor::Caseworker, Op::Create { case_type: child.case_type, office: child.office });
            p.push(Actor::Caseworker, Op::Assign);
            let mut dup_child = child.clone();
            dup_child.dob = dup_child.dob.and_then(|d| d.with_year(d.year() - (age as i32 - child.age as i32)));
            planner.registration(&mut p, &dup_child, variant, &staff.caseworker, age);
            p.stage(Actor::Caseworker, Stage::Registered, "registration saved with consent");
            if pct(&mut planner.rng, 50) {
                p.after_days(planner.rng.gen_range(5..60));
                p.push(Actor::DataManager, Op::Merge { into: orig });
                p.stage(Actor::DataManager, Stage::Duplicate, "merged: same child registered twice");
                planner.merged += 1;
            }
        }
        planner.seq = p.seq;
        planner.steps.append(&mut p.steps);
    }

    // --- 2. replay in date order ---------------------------------------------
    let mut steps = std::mem::take(&mut planner.steps);
    steps.retain(|s| s.at <= end);
    steps.sort_by_key(|s| (s.at, s.seq));
    store.set_rng_seed(seed ^ 0x5eed_dead_beef);
    let mut summary = DemoSummary { start: start_date_for(today), end: today, ..DemoSummary::default() };
    let mut ids: BTreeMap<usize, Uuid> = BTreeMap::new();
    let mut skip: std::collections::BTreeSet<usize> = std::collections::BTreeSet::new();
    let mut events = 0usize;
    // One vault commit per chunk of steps: few commits keep generation fast,
    // and chunks keep each journal frame well under the vault's size limit.
    // Each step's payload moves into its event, so the plan (every case's
    // data as JSON values) shrinks as the database grows instead of being
    // held to the end: a large register would otherwise need its memory
    // twice over.
    let mut steps = steps.into_iter().peekable();
    while steps.peek().is_some() {
        let mut batch = store.batch();
        for mut s in steps.by_ref().take(STEPS_PER_COMMIT) {
            if skip.contains(&s.case) {
                continue;
            }
            batch.set_clock(Some(s.at));
            let (office, pick) = planner.offices.get(&s.case).copied().unwrap_or(("Office", 0));
            let (user, role) = actor_identity(s.actor, office, pick);
            batch.set_actor(&user, role)?;
            let case = ids.get(&s.case).copied();
            let result: Result<(), StoreError> = match (&mut s.op, case) {
                (Op::Create { case_type, office }, _) => batch.create_case(case_type, office).map(|id| {
                    ids.insert(s.case, id);
                }),
                (_, None) => Ok(()),
                (Op::Assign, Some(c)) => batch.assign(c, &user),
                (Op::Save { form, item, values }, Some(c)) => batch.save_form(c, form, *item, std::mem::take(values)),
                (Op::Stage { to, reason }, Some(c)) => batch.change_stage(c, *to, reason),
                (Op::Note(v), Some(c)) => batch.add_note(c, std::mem::take(v)).map(|_| ()),
                (Op::Visit(v), Some(c)) => batch.record_visit(c, std::mem::take(v)).map(|_| ()),
                (Op::Referral(v), Some(c)) => batch.make_referral(c, std::mem::take(v)).map(|_| ()),
                (Op::Merge { into }, Some(c)) => match ids.get(into) {
                    Some(target) => batch
                        .record(c, EventKind::CaseMerged, None, json!({"duplicate_of": target}), Vec::new())
                        .map(|_| ()),
                    None => Ok(()),
                },
                (Op::Transferred { to }, Some(c)) => {
                    batch.record(c, EventKind::CaseTransferred, None, json!({"to": to}), Vec::new()).map(|_| ())
                }
            };
            match result {
                Ok(()) => events += 1,
                Err(e) => {
                    summary.refused.push(format!("case #{} at {}: {e}", s.case, ymd(s.at)));
                    skip.insert(s.case);
                }
            }
        }
        batch.commit()?;
    }

    // --- 3. concurrent edits from a second device ----------------------------
    let mut key_rng = StdRng::seed_from_u64(seed.wrapping_mul(31).wrapping_add(7));
    let mut key_bytes = [0u8; 32];
    key_rng.fill(&mut key_bytes);
    let key = SigningKey::from_bytes(&key_bytes);
    let device = Uuid::from_u64_pair(seed, 0x0de0_0000_0000_0002);
    let mut foreign = Vec::new();
    let mut seq = 0u64;
    let conflicts = std::mem::take(&mut planner.conflicts);
    for c in &conflicts {
        let Some(&case) = ids.get(&c.case) else {
            continue;
        };
        if skip.contains(&c.case) || c.at > end {
            continue;
        }
        let state = store.case_state(case)?;
        let Some(register) = state.register("registration_bia", None, c.field) else {
            continue;
        };
        // The second device saw the registration but not the main device's
        // later edit: its base is what that edit superseded.
        let heads = register.heads();
        let base: Vec<Uuid> =
            register.writes.keys().copied().filter(|id| !heads.iter().any(|h| h.event == *id)).collect();
        if base.is_empty() {
            continue;
        }
        seq += 1;
        let mut e = Event {
            id: new_v7(c.at, &mut key_rng),
            case_id: case,
            device_id: device,
            device_seq: seq,
            hlc: Hlc { millis: c.at, counter: 0 },
            author: "tablet2.caseworker".into(),
            role: Role::Caseworker,
            kind: EventKind::FormSaved,
            form: Some("registration_bia".into()),
            payload: json!({"values": { c.field: c.value.clone() }}),
            base,
            sig: String::new(),
        };
        e.sign(&key);
        foreign.push(e);
        summary.conflicts_planted += 1;
        if c.protected {
            summary.protected_conflicts_planted += 1;
        }
    }
    if !foreign.is_empty() {
        store.trust_device(device, &key.verifying_key(), "Demo tablet 2")?;
        let imported = store.import_events(foreign)?;
        events += imported.new;
    }

    store.set_clock(None);
    store.set_actor(&orig_user, orig_role)?;
    summary.cases = ids.len();
    summary.events = events;
    summary.duplicates_planted = planner.duplicates;
    summary.duplicates_merged = planner.merged;
    summary.duplicate_pairs = planner.planted.iter().filter_map(|(a, b)| Some((*ids.get(a)?, *ids.get(b)?))).collect();
    // Every generated case, whoever unlocked the vault (the case list is
    // that person's view).
    let mut stmt = store.vault().conn().prepare("SELECT stage, COUNT(*) FROM cases GROUP BY stage")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    for row in rows {
        let (stage, n) = row?;
        *summary.by_stage.entry(stage).or_default() += n as usize;
    }
    Ok(summary)
}

/// Who performs a step: user name and role, from the case's office staff.
fn actor_identity(actor: Actor, office: &str, pick: usize) -> (String, Role) {
    let staff = staff_for(office, pick);
    match actor {
        Actor::Caseworker => (staff.caseworker, Role::Caseworker),
        Actor::Supervisor => (staff.supervisor, Role::Supervisor),
        Actor::Panel => (staff.panel_chair, Role::BidPanel),
        Actor::DataManager => (DATA_MANAGER.to_string(), Role::DataManager),
    }
}
