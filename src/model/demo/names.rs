//! Corridors, offices and name patterns of the demo (docs/domain.md, Demo data).
//!
//! Names come in *variant groups*: every spelling of one name that a child
//! may be registered under (Mohamed / Muhammad / Mahamat…). A synthetic child
//! is a choice of group plus a preferred spelling; a near-duplicate record of
//! the same child picks another spelling of the same groups, which is what
//! duplicate matching and tracing have to cope with.

use rand::Rng;

/// One migration corridor (docs/domain.md, Demo data: corridors A–C).
#[derive(Debug, Clone, Copy)]
pub struct Corridor {
    /// Short code (`A`, `B`, `C`).
    pub code: &'static str,
    /// Offices where children are met.
    pub offices: &'static [&'static str],
    /// Country-of-origin offices (receiving actors, transfers).
    pub coo_offices: &'static [&'static str],
    /// Nationality mix (ISO 3166 alpha-3, weight).
    pub nationalities: &'static [(&'static str, u32)],
    /// Case-type mix: uasc, accompanied_child_at_risk, family_with_children.
    pub case_types: [u32; 3],
    /// Percent unaccompanied among UASC (rest separated).
    pub uac_percent: u32,
    /// Percent boys among UASC.
    pub boys_percent: u32,
    /// UASC age bands: 15–17, 10–14, under 10 (percent).
    pub ages: [u32; 3],
    /// Percent victims of trafficking.
    pub vot_percent: u32,
    /// Interview languages (ISO 639 codes of the value list).
    pub languages: &'static [&'static str],
    /// UASC outcome mix: return, reunification in destination, local
    /// integration, third country, absconded/unresolved.
    pub outcomes: [u32; 5],
}

/// The three corridors, with their share of cases.
pub static CORRIDORS: &[(Corridor, u32)] = &[
    (
        Corridor {
            code: "A",
            offices: &["Agadez", "Niamey", "Sfax"],
            coo_offices: &["Conakry", "Bamako", "Abidjan", "Banjul"],
            nationalities: &[
                ("GIN", 20),
                ("CIV", 15),
                ("MLI", 15),
                ("GMB", 10),
                ("NGA", 10),
                ("SEN", 8),
                ("CMR", 7),
                ("BFA", 7),
                ("SDN", 5),
                ("NER", 3),
            ],
            case_types: [80, 5, 15],
            uac_percent: 70,
            boys_percent: 90,
            ages: [80, 17, 3],
            vot_percent: 15,
            languages: &["fr", "en", "ff", "mnk", "bm", "sus", "wo", "ha", "ar"],
            outcomes: [55, 0, 15, 5, 25],
        },
        45,
    ),
    (
        Corridor {
            code: "B",
            offices: &["Tapachula", "Ciudad Juárez"],
            coo_offices: &["Guatemala City", "San Pedro Sula", "San Salvador"],
            nationalities: &[
                ("GTM", 45),
                ("HND", 30),
                ("SLV", 12),
                ("MEX", 5),
                ("NIC", 3),
                ("VEN", 2),
                ("ECU", 2),
                ("HTI", 1),
            ],
            case_types: [40, 10, 50],
            uac_percent: 60,
            boys_percent: 70,
            ages: [70, 22, 8],
            vot_percent: 8,
            languages: &["es", "quc", "mam", "kek", "cak", "ht"],
            outcomes: [40, 30, 20, 10, 0],
        },
        30,
    ),
    (
        Corridor {
            code: "C",
            offices: &["Obock", "Aden", "Bosaso"],
            coo_offices: &["Addis Ababa", "Dire Dawa"],
            nationalities: &[("ETH", 90), ("SOM", 9), ("ERI", 1)],
            case_types: [75, 5, 20],
            uac_percent: 75,
            boys_percent: 88,
            ages: [70, 27, 3],
            vot_percent: 12,
            languages: &["om", "am", "ti", "so", "ar"],
            outcomes: [75, 0, 3, 0, 22],
        },
        25,
    ),
];

/// How names are built for a nationality.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamePattern {
    /// Given name + family name (West/Central Africa, Sudan).
    WestAfrican,
    /// Anglophone Nigeria/Cameroon.
    Nigerian,
    /// Given + father + grandfather, no family name (Ethiopia, Eritrea).
    Ethiopian,
    /// Given + father + grandfather in Somali orthography.
    Somali,
    /// Compound given names, paternal + maternal surnames.
    Hispanic,
    /// Haitian (French-style).
    Haitian,
}

/// The name pattern of a nationality.
pub fn pattern_for(nationality: &str) -> NamePattern {
    match nationality {
        "NGA" | "CMR" => NamePattern::Nigerian,
        "ETH" | "ERI" => NamePattern::Ethiopian,
        "SOM" => NamePattern::Somali,
        "GTM" | "HND" | "SLV" | "MEX" | "NIC" | "VEN" | "ECU" => NamePattern::Hispanic,
        "HTI" => NamePattern::Haitian,
        _ => NamePattern::WestAfrican,
    }
}

type Groups = &'static [&'static [&'static str]];

const WA_MALE: Groups = &[
    &["Mohamed", "Muhammad", "Mohammed", "Mohamad", "Mahamat", "Mamadou"],
    &["Ahmed", "Ahmad", "Amadou"],
    &["Ousmane", "Usman", "Othman", "Osman"],
    &["Abdoulaye", "Abdullahi", "Abdallah"],
    &["Ibrahim", "Ibrahima", "Brahim"],
    &["Moussa", "Musa"],
    &["Lamine", "Lamin"],
    &["Boubacar", "Abubakar", "Aboubacar"],
    &["Souleymane", "Suleiman", "Sulayman"],
    &["Sékou", "Sekou", "Seku"],
    &["Alhassane", "Alhassan", "Al Hassan"],
];
const WA_FEMALE: Groups = &[
    &["Fatoumata", "Fatima", "Fatuma", "Fadumo"],
    &["Aïssatou", "Aissatou", "Aisha", "Ayesha"],
    &["Mariam", "Maryam", "Mariama"],
    &["Hawa", "Awa"],
    &["Kadiatou", "Khadija", "Kadidia"],
    &["Aminata", "Amina"],
];
const WA_FAMILY: Groups = &[
    &["Diallo", "Jallow", "Djalo"],
    &["Cissé", "Ceesay", "Sisay", "Cisse"],
    &["Touré", "Toure"],
    &["Traoré", "Trawally", "Traore"],
    &["Camara", "Kamara"],
    &["Keïta", "Keita"],
    &["Ndiaye", "Njie"],
    &["Bah", "Ba"],
    &["Barry", "Bari"],
    &["Diakité", "Jakite", "Diakite"],
    &["Sow", "Sowe"],
    &["Sylla", "Silla"],
    &["Coulibaly", "Kulibali"],
];
const NG_MALE: Groups =
    &[&["Emmanuel", "Emanuel"], &["Chinedu", "Chinedum"], &["Samuel", "Samuael"], &["Osagie", "Osaghae"]];
const NG_FEMALE: Groups = &[&["Blessing"], &["Joy", "Joyce"], &["Precious"], &["Osas", "Osasu"]];
const NG_FAMILY: Groups =
    &[&["Okafor", "Okafo"], &["Eze"], &["Nwosu", "Nwoso"], &["Adeyemi"], &["Igbinosa", "Igbinosun"]];
const ET_MALE: Groups = &[
    &["Tesfaye", "Tesfay"],
    &["Haile", "Hayle"],
    &["Gebre", "Gebray"],
    &["Abebe"],
    &["Dawit", "Dawitt"],
    &["Kedir", "Kadir"],
    &["Gemechu", "Gemechuu"],
    &["Tadesse", "Tadese"],
    &["Mulugeta"],
    &["Abdi", "Abdii"],
    &["Lemma", "Lema"],
];
const ET_FEMALE: Groups =
    &[&["Hiwot", "Hiwet"], &["Tigist"], &["Meseret"], &["Chaltu", "Caaltuu"], &["Almaz", "Almas"]];
const SO_MALE: Groups = &[
    &["Maxamed", "Mohamed", "Mohammed"],
    &["Xasan", "Hassan", "Hasan"],
    &["Cali", "Ali"],
    &["Cabdiraxmaan", "Abdirahman", "Abdulrahman"],
    &["Axmed", "Ahmed"],
    &["Cabdullaahi", "Abdullahi"],
];
const SO_FEMALE: Groups =
    &[&["Faadumo", "Fadumo", "Fatuma"], &["Xaliimo", "Halimo", "Halima"], &["Hodan"], &["Cawo", "Awo"]];
const HI_MALE: Groups = &[
    &["José Luis", "Jose Luis", "José"],
    &["Juan Carlos", "Juan Carlos", "Juan"],
    &["Luis Fernando", "Luis"],
    &["Brayan", "Bryan"],
    &["Wilmer", "Wilmar"],
    &["Kevin Josué", "Kevin Josue", "Kevin"],
];
const HI_FEMALE: Groups = &[
    &["María José", "Maria Jose", "María"],
    &["Ana Lucía", "Ana Lucia", "Ana"],
    &["Dayana", "Diana"],
    &["Yessenia", "Yesenia"],
];
const HI_SURNAME: Groups = &[
    &["García", "Garcia"],
    &["López", "Lopez"],
    &["Hernández", "Hernandez"],
    &["Pérez", "Perez"],
    &["Ramírez", "Ramirez"],
    &["Cruz"],
    &["Gómez", "Gomez"],
    &["Xicará", "Xicara"],
    &["Tzul"],
    &["Ajú", "Aju"],
];
const HT_MALE: Groups = &[&["Jean", "Jean-Baptiste"], &["Wesley", "Wesly"]];
const HT_FEMALE: Groups = &[&["Marie", "Mari"], &["Nadège", "Nadege"]];
const HT_FAMILY: Groups = &[&["Joseph"], &["Pierre", "Piere"], &["Jean-Louis", "Jean Louis"]];

/// A person's name as variant-group choices, so other spellings of the same
/// name can be produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameChoice {
    /// Naming pattern.
    pub pattern: NamePattern,
    /// Whether the given-name list is the female one.
    pub female: bool,
    /// Given name group.
    pub given: usize,
    /// Family-name groups (one for most patterns; father + grandfather for
    /// Ethiopian/Somali; paternal + maternal surnames for Hispanic).
    pub family: Vec<usize>,
}

fn lists(p: NamePattern, female: bool) -> (Groups, Groups) {
    match p {
        NamePattern::WestAfrican => (if female { WA_FEMALE } else { WA_MALE }, WA_FAMILY),
        NamePattern::Nigerian => (if female { NG_FEMALE } else { NG_MALE }, NG_FAMILY),
        NamePattern::Ethiopian => (if female { ET_FEMALE } else { ET_MALE }, ET_MALE),
        NamePattern::Somali => (if female { SO_FEMALE } else { SO_MALE }, SO_MALE),
        NamePattern::Hispanic => (if female { HI_FEMALE } else { HI_MALE }, HI_SURNAME),
        NamePattern::Haitian => (if female { HT_FEMALE } else { HT_MALE }, HT_FAMILY),
    }
}

impl NameChoice {
    /// A random name for a child of this nationality and sex.
    pub fn random(rng: &mut impl Rng, nationality: &str, female: bool) -> NameChoice {
        let pattern = pattern_for(nationality);
        let (given, family) = lists(pattern, female);
        let n_family = match pattern {
            NamePattern::Ethiopian | NamePattern::Somali | NamePattern::Hispanic => 2,
            _ => 1,
        };
        NameChoice {
            pattern,
            female,
            given: rng.gen_range(0..given.len()),
            family: {
                // Father and grandfather (or the two surnames) differ.
                let first = rng.gen_range(0..family.len());
                let mut fam = vec![first];
                if n_family == 2 {
                    let second = (first + rng.gen_range(1..family.len())) % family.len();
                    fam.push(second);
                }
                fam
            },
        }
    }

    /// A sibling: same family names, another given name.
    pub fn sibling(&self, rng: &mut impl Rng, female: bool) -> NameChoice {
        let (given, _) = lists(self.pattern, female);
        NameChoice { female, given: rng.gen_range(0..given.len()), ..self.clone() }
    }

    /// The child's father, named as the child's naming pattern makes him:
    /// the family name passed on (West African, Nigerian, Haitian), the
    /// child's second name as his given name and the third as his father's
    /// (Ethiopian, Eritrean, Somali patronymic chains), or the child's first
    /// surname as his (Hispanic).
    pub fn father(&self, rng: &mut impl Rng) -> NameChoice {
        let (male_given, family) = lists(self.pattern, false);
        let other = |rng: &mut dyn rand::RngCore, not: usize| {
            let len = family.len();
            (not + rng.gen_range(1..len.max(2))) % len
        };
        match self.pattern {
            NamePattern::Ethiopian | NamePattern::Somali => {
                let grandfather = self.family.get(1).copied().unwrap_or(0);
                NameChoice {
                    pattern: self.pattern,
                    female: false,
                    given: self.family.first().copied().unwrap_or(0) % male_given.len(),
                    family: vec![grandfather, other(rng, grandfather)],
                }
            }
            NamePattern::Hispanic => {
                let first = self.family.first().copied().unwrap_or(0);
                NameChoice {
                    pattern: self.pattern,
                    female: false,
                    given: rng.gen_range(0..male_given.len()),
                    family: vec![first, other(rng, first)],
                }
            }
            _ => NameChoice {
                pattern: self.pattern,
                female: false,
                given: rng.gen_range(0..male_given.len()),
                family: self.family.clone(),
            },
        }
    }

    /// The child's mother: her own names (women keep their family's name
    /// in every pattern here), with the child's second surname as her first
    /// in the Hispanic pattern.
    pub fn mother(&self, rng: &mut impl Rng) -> NameChoice {
        let (female_given, family) = lists(self.pattern, true);
        let given = rng.gen_range(0..female_given.len());
        let first = rng.gen_range(0..family.len());
        let mut fam = vec![first];
        match self.pattern {
            NamePattern::Hispanic => {
                let second = self.family.get(1).copied().unwrap_or(0);
                fam = vec![second, (second + rng.gen_range(1..family.len().max(2))) % family.len()];
            }
            NamePattern::Ethiopian | NamePattern::Somali => {
                fam.push((first + rng.gen_range(1..family.len().max(2))) % family.len());
            }
            _ => {}
        }
        NameChoice { pattern: self.pattern, female: true, given, family: fam }
    }

    /// The name as written in one record: `variant` 0 is the preferred
    /// spelling; other values pick other spellings of the same groups.
    /// Returns (given names, family name).
    pub fn render(&self, variant: usize) -> (String, String) {
        let (given, family) = lists(self.pattern, self.female);
        let pick = |group: &[&str], salt: usize| -> String {
            let i = if variant == 0 { 0 } else { (variant + salt) % group.len() };
            group[i].to_string()
        };
        let g = pick(given[self.given], 0);
        let fam: Vec<String> = self.family.iter().enumerate().map(|(k, &f)| pick(family[f], k + 1)).collect();
        let family_name = match self.pattern {
            // Maternal surname often omitted or abbreviated at the border.
            NamePattern::Hispanic if variant % 3 == 1 => fam[0].clone(),
            NamePattern::Hispanic if variant % 3 == 2 => {
                format!("{} {}.", fam[0], fam[1].chars().next().unwrap_or('X'))
            }
            _ => fam.join(" "),
        };
        (g, family_name)
    }

    /// Every other spelling of the full name (for `other_names`).
    pub fn other_spellings(&self, max: usize) -> Vec<String> {
        let (g0, f0) = self.render(0);
        let mut out = Vec::new();
        for v in 1..6 {
            let (g, f) = self.render(v);
            let full = format!("{g} {f}");
            if (g != g0 || f != f0) && !out.contains(&full) {
                out.push(full);
            }
            if out.len() >= max {
                break;
            }
        }
        out
    }
}

/// A name for an adult (relative, guardian, staff) of the same pattern.
pub fn adult_name(rng: &mut impl Rng, nationality: &str, female: bool) -> String {
    let c = NameChoice::random(rng, nationality, female);
    let (g, f) = c.render(0);
    format!("{g} {f}")
}

/// Places of origin per nationality (town / region).
pub fn places(nationality: &str) -> &'static [&'static str] {
    match nationality {
        "GIN" => &["Labé", "Kankan", "Mamou", "Kindia", "Conakry, Ratoma"],
        "MLI" => &["Kayes", "Ségou", "Mopti", "Bamako, Commune IV"],
        "CIV" => &["Daloa", "Bouaké", "Abidjan, Yopougon"],
        "GMB" => &["Serekunda", "Brikama", "Basse Santa Su"],
        "NGA" => &["Benin City, Edo", "Lagos, Ikorodu", "Uromi, Edo"],
        "SEN" => &["Kolda", "Tambacounda", "Ziguinchor"],
        "CMR" => &["Douala", "Bamenda"],
        "BFA" => &["Ouahigouya", "Bobo-Dioulasso"],
        "SDN" => &["Nyala, South Darfur", "El Geneina, West Darfur"],
        "NER" => &["Zinder", "Tahoua"],
        "GTM" => &["Huehuetenango", "San Marcos", "Quiché, Nebaj", "Alta Verapaz, Cobán"],
        "HND" => &["San Pedro Sula", "Tegucigalpa", "Choluteca"],
        "SLV" => &["San Miguel", "Usulután"],
        "MEX" => &["Chiapas, Comitán"],
        "NIC" => &["Chinandega"],
        "VEN" => &["Maracaibo"],
        "ECU" => &["Guayaquil"],
        "HTI" => &["Port-au-Prince, Carrefour"],
        "ETH" => &["Oromia, Arsi", "Oromia, West Hararghe", "Amhara, North Wollo", "Tigray, Raya", "Dire Dawa"],
        "SOM" => &["Bosaso", "Hargeisa", "Galkayo"],
        "ERI" => &["Keren"],
        _ => &["unknown"],
    }
}

/// The first language of a nationality (from the value list).
pub fn language_for(rng: &mut impl Rng, nationality: &str) -> &'static str {
    let options: &[&str] = match nationality {
        "GIN" => &["ff", "sus", "mnk", "fr"],
        "MLI" => &["bm", "ff", "fr"],
        "CIV" => &["fr", "dyu"],
        "GMB" => &["mnk", "wo", "ff", "en"],
        "SEN" => &["wo", "ff", "fr"],
        "NGA" => &["en"],
        "CMR" => &["en", "fr"],
        "BFA" => &["fr", "dyu"],
        "SDN" | "NER" => &["ar", "ha"],
        "GTM" => &["es", "es", "quc", "mam", "kek", "cak"],
        "HTI" => &["ht"],
        "ETH" => &["om", "om", "om", "am", "ti"],
        "ERI" => &["ti"],
        "SOM" => &["so"],
        _ => &["es"],
    };
    options[rng.gen_range(0..options.len())]
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn variants_are_other_spellings_of_the_same_name() {
        let c = NameChoice { pattern: NamePattern::WestAfrican, female: false, given: 0, family: vec![0] };
        assert_eq!(c.render(0), ("Mohamed".to_string(), "Diallo".to_string()));
        assert_ne!(c.render(1), c.render(0));
        assert!(c.other_spellings(3).iter().any(|n| n.contains("Jallow")));
        let h = NameChoice { pattern: NamePattern::Hispanic, female: false, given: 0, family: vec![0, 1] };
        assert_eq!(h.render(0).1, "García López");
        assert_eq!(h.render(1).1, "García", "maternal surname omitted at the border");
        assert_eq!(h.render(2).1, "Garcia L.", "accents dropped, maternal abbreviated");
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let e = NameChoice::random(&mut rng, "ETH", true);
        assert_eq!(e.family.len(), 2, "Ethiopian names carry father and grandfather");
    }
}
