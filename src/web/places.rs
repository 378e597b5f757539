//! The places of a travel form: "in Canada / outside Canada" first, then the city and its
//! province or its country, checked against the gazetteer on the server (so the form works
//! without JavaScript), and the suggestions the script asks for as a city is typed.
//!
//! The gazetteer suggests and warns, it never refuses: a city it knows in one province only
//! fills that province in for the caseworker to check, a homonym (Richmond BC, ON, QC)
//! asks which, a city it knows only in another province than the one chosen asks for a
//! confirmation (a second submit with the box ticked), and a city it does not know goes on
//! as typed (the API's parsing scans it like a note).

use std::collections::HashMap;

use axum::extract::Query;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::context::{Context, PageError};
use super::forms::{FieldErrors, Submitted};
use crate::domain::Role;
use crate::domain::gazetteer::{self, Verdict};

/// The two ends of a trip, as the form names its fields (`origin_city`, ...).
pub const ENDS: [&str; 2] = ["origin", "destination"];

/// The most suggestions one answer carries.
const SUGGESTIONS: usize = 8;

/// Where a place is: the form's first question for each end.
pub const IN_CANADA: &str = "canada";
pub const ABROAD: &str = "abroad";

/// What the server made of the places of a submitted travel form.
#[derive(Debug, Default)]
pub struct Checked {
    /// Fields to set before the form goes on or is shown again (a suggested province, the
    /// side of the border read from what was filled in).
    pub set: Vec<(String, String)>,
    /// Fields emptied: the province of a place abroad, the country of a place in Canada.
    pub clear: Vec<String>,
    /// What is missing or wrong, by form field.
    pub errors: HashMap<String, String>,
    /// What the caseworker should look at before sending again, by end.
    pub notices: HashMap<String, String>,
    /// The ends whose province needs the confirmation box.
    pub confirming: Vec<String>,
}

impl Checked {
    /// Whether the form may go on to the API.
    pub fn ready(&self) -> bool {
        self.errors.is_empty() && self.notices.is_empty()
    }

    pub fn field_errors(&self) -> FieldErrors {
        FieldErrors(self.errors.clone())
    }

    /// Applies what was read to the submitted form.
    pub fn apply(&self, form: &mut Submitted) {
        for (name, value) in &self.set {
            form.set(name, value);
        }
        for name in &self.clear {
            form.set(name, "");
        }
    }
}

fn provinces_named(c: &Context, provinces: &[&str]) -> String {
    provinces
        .iter()
        .map(|p| c.province(p))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads both ends of a travel form.
pub fn check(c: &Context, form: &Submitted) -> Checked {
    let mut checked = Checked::default();
    for end in ENDS {
        check_end(c, form, end, &mut checked);
    }
    checked
}

fn check_end(c: &Context, form: &Submitted, end: &str, out: &mut Checked) {
    let field = |part: &str| format!("{end}_{part}");
    let side = form.get(&field("where"));
    let city = form.get(&field("city"));
    let province = form.get(&field("province"));
    let country = form.get(&field("country"));
    let abroad = match side {
        ABROAD => true,
        IN_CANADA => false,
        // Without a choice, what was filled in tells the side: a country alone is abroad.
        _ => province.is_empty() && !country.is_empty(),
    };
    if side.is_empty() && city.is_empty() && province.is_empty() && country.is_empty() {
        out.errors
            .insert(field("where"), c.t(&format!("place-{end}-required")));
        return;
    }
    if abroad {
        out.set.push((field("where"), ABROAD.into()));
        out.clear.push(field("province"));
        if city.is_empty() {
            out.errors.insert(field("city"), c.t("place-city-missing"));
        }
        if country.is_empty() {
            out.errors
                .insert(field("country"), c.t("place-country-missing"));
        }
        return;
    }
    out.set.push((field("where"), IN_CANADA.into()));
    out.clear.push(field("country"));
    if city.is_empty() {
        out.errors.insert(field("city"), c.t("place-city-missing"));
        return;
    }
    let args = |provinces: &[&str]| {
        vec![
            ("city", city.to_string()),
            ("provinces", provinces_named(c, provinces)),
            ("province", c.province(province)),
        ]
    };
    if province.is_empty() {
        let known = gazetteer::provinces_of(city);
        match known.as_slice() {
            [] => {
                out.errors
                    .insert(field("province"), c.t("place-province-missing"));
            }
            [one] => {
                out.set.push((field("province"), (*one).to_string()));
                out.notices.insert(
                    end.to_string(),
                    c.t_with("place-province-suggested", &args(&known)),
                );
            }
            _ => {
                out.errors.insert(
                    field("province"),
                    c.t_with("place-province-homonyms", &args(&known)),
                );
            }
        }
        return;
    }
    if let Verdict::Elsewhere(known) = gazetteer::check(city, province)
        && !form.has(&field("confirm"))
    {
        out.notices.insert(
            end.to_string(),
            c.t_with("place-province-elsewhere", &args(&known)),
        );
        out.confirming.push(end.to_string());
    }
}

#[derive(Deserialize)]
pub struct SuggestQuery {
    #[serde(default)]
    q: String,
}

/// `GET /places?q=otta`: the gazetteer's places whose name begins so, for the form's
/// script; `exact` lists the provinces that know the name as typed.
pub async fn suggest(c: Context, Query(q): Query<SuggestQuery>) -> Result<Response, PageError> {
    c.with_role(Role::Caseworker)?;
    let typed: String =
        q.q.chars()
            .take(crate::domain::place::CITY_MAX_CHARS)
            .collect();
    let places: Vec<_> = gazetteer::suggest(&typed, SUGGESTIONS)
        .into_iter()
        .map(|k| json!({"city": k.name, "province": k.province}))
        .collect();
    let exact = gazetteer::provinces_of(&typed);
    Ok(axum::Json(json!({"places": places, "exact": exact})).into_response())
}
