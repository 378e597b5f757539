//! What a request asks for: its category, the reason for a trip, and the shape of a hotel
//! stay. Origin, destination and scope live in [`super::place`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::money::{MAX_CENTS, Money};
use super::place::{Place, Scope};

/// What the money is for. The list is closed on purpose: the books, the approval rules and
/// the donors' reports all count by category, so a free-text category would break all three.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Bus,
    Train,
    Flight,
    LocalTransport,
    Hotel,
    PhoneCard,
    Food,
    Clothing,
    Hygiene,
    PocketMoney,
    Interpreter,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "is not a category: use one of bus, train, flight, local_transport, hotel, phone_card, food, clothing, hygiene, pocket_money, interpreter, other"
)]
pub struct UnknownCategory;

impl Category {
    pub const ALL: [Category; 12] = [
        Category::Bus,
        Category::Train,
        Category::Flight,
        Category::LocalTransport,
        Category::Hotel,
        Category::PhoneCard,
        Category::Food,
        Category::Clothing,
        Category::Hygiene,
        Category::PocketMoney,
        Category::Interpreter,
        Category::Other,
    ];

    /// Travel requests carry an origin, a destination, a travel date and a reason.
    pub fn is_travel(&self) -> bool {
        matches!(
            self,
            Category::Bus | Category::Train | Category::Flight | Category::LocalTransport
        )
    }

    /// The wire and database name, as in the policy document (`local_transport`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Category::Bus => "bus",
            Category::Train => "train",
            Category::Flight => "flight",
            Category::LocalTransport => "local_transport",
            Category::Hotel => "hotel",
            Category::PhoneCard => "phone_card",
            Category::Food => "food",
            Category::Clothing => "clothing",
            Category::Hygiene => "hygiene",
            Category::PocketMoney => "pocket_money",
            Category::Interpreter => "interpreter",
            Category::Other => "other",
        }
    }
}

impl FromStr for Category {
    type Err = UnknownCategory;

    /// Exact names only: a category is a key in the policy and the books, so "Bus " or
    /// "taxi" must not silently become something else.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Category::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or(UnknownCategory)
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a person travels. Coarse on purpose: enough for the treasurers and the reports,
/// too little to tell anyone's story.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Safety,
    Family,
    Shelter,
    Court,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("is not a reason: use one of safety, family, shelter, court, other")]
pub struct UnknownReason;

impl Reason {
    pub const ALL: [Reason; 5] = [
        Reason::Safety,
        Reason::Family,
        Reason::Shelter,
        Reason::Court,
        Reason::Other,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Reason::Safety => "safety",
            Reason::Family => "family",
            Reason::Shelter => "shelter",
            Reason::Court => "court",
            Reason::Other => "other",
        }
    }
}

impl FromStr for Reason {
    type Err = UnknownReason;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reason::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or(UnknownReason)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a travel request goes and why. Any two places and any reason make a valid trip
/// (a bus across town is a local trip), so the parts are public; the scope is derived,
/// never stored apart from them, so it cannot disagree with the places.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trip {
    pub origin: Place,
    pub destination: Place,
    pub reason: Reason,
}

impl Trip {
    pub fn scope(&self) -> Scope {
        Scope::of(&self.origin, &self.destination)
    }
}

/// The most nights one request pays for: a longer stay is housing, not an emergency, and
/// goes through a new request.
pub const MAX_NIGHTS: u32 = 30;
/// The largest party one hotel request covers (a family, or a group freed at once).
pub const MAX_PARTY_SIZE: u32 = 12;

/// A hotel stay whose amount is always nights × nightly rate and always a valid [`Money`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HotelStay {
    nights: u32,
    nightly_rate: Money,
    party_size: u32,
    amount: Money,
}

/// Why a hotel stay was refused; [`HotelStayError::field`] names the request field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HotelStayError {
    #[error("must be a whole number of nights from 1 to 30")]
    Nights,
    #[error("must be a whole number of people from 1 to 12")]
    PartySize,
    #[error("times the nights is more than 100000.00, the most one request can ask")]
    TooExpensive,
}

impl HotelStayError {
    pub fn field(&self) -> &'static str {
        match self {
            HotelStayError::Nights => "nights",
            HotelStayError::PartySize => "party_size",
            HotelStayError::TooExpensive => "nightly_rate",
        }
    }
}

impl HotelStay {
    /// Takes the counts as `i64` so that a negative or absurd JSON number reaches this check
    /// and gets its field-level message instead of a generic deserialisation error.
    pub fn new(
        nights: i64,
        nightly_rate: Money,
        party_size: i64,
    ) -> Result<HotelStay, HotelStayError> {
        let nights = u32::try_from(nights)
            .ok()
            .filter(|n| (1..=MAX_NIGHTS).contains(n))
            .ok_or(HotelStayError::Nights)?;
        let party_size = u32::try_from(party_size)
            .ok()
            .filter(|n| (1..=MAX_PARTY_SIZE).contains(n))
            .ok_or(HotelStayError::PartySize)?;
        let total = nightly_rate
            .cents()
            .checked_mul(i64::from(nights))
            .filter(|c| *c <= MAX_CENTS)
            .ok_or(HotelStayError::TooExpensive)?;
        let amount = Money::from_cents(total).map_err(|_| HotelStayError::TooExpensive)?;
        Ok(HotelStay {
            nights,
            nightly_rate,
            party_size,
            amount,
        })
    }

    pub fn nights(&self) -> u32 {
        self.nights
    }

    pub fn nightly_rate(&self) -> Money {
        self.nightly_rate
    }

    pub fn party_size(&self) -> u32 {
        self.party_size
    }

    /// Nights × nightly rate, computed once when the stay was made.
    pub fn amount(&self) -> Money {
        self.amount
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn money(s: &str) -> Money {
        s.parse().unwrap()
    }

    #[test]
    fn categories_use_their_snake_case_names_everywhere() {
        for c in Category::ALL {
            let wire = serde_json::to_value(c).unwrap();
            assert_eq!(wire, json!(c.as_str()));
            assert_eq!(serde_json::from_value::<Category>(wire).unwrap(), c);
            assert_eq!(c.as_str().parse::<Category>(), Ok(c));
            assert_eq!(c.to_string(), c.as_str());
        }
        assert_eq!(
            serde_json::to_value(Category::LocalTransport).unwrap(),
            json!("local_transport")
        );
    }

    #[test]
    fn unknown_or_misspelt_categories_are_refused() {
        for bad in ["taxi", "Bus", "bus ", "localTransport", ""] {
            assert_eq!(bad.parse::<Category>(), Err(UnknownCategory), "{bad}");
        }
        assert!(serde_json::from_value::<Category>(json!("taxi")).is_err());
    }

    #[test]
    fn only_bus_train_flight_and_local_transport_are_travel() {
        let travel: Vec<_> = Category::ALL
            .into_iter()
            .filter(Category::is_travel)
            .collect();
        assert_eq!(
            travel,
            [
                Category::Bus,
                Category::Train,
                Category::Flight,
                Category::LocalTransport
            ]
        );
    }

    #[test]
    fn reasons_round_trip_and_refuse_the_unknown() {
        for r in Reason::ALL {
            assert_eq!(r.as_str().parse::<Reason>(), Ok(r));
            assert_eq!(serde_json::to_value(r).unwrap(), json!(r.as_str()));
        }
        assert_eq!("revenge".parse::<Reason>(), Err(UnknownReason));
    }

    #[test]
    fn a_trip_derives_its_scope_from_its_places() {
        let trip: Trip = serde_json::from_value(json!({
            "origin": {"city": "Montréal", "province": "QC"},
            "destination": {"city": "Ottawa", "province": "ON"},
            "reason": "safety"
        }))
        .unwrap();
        assert_eq!(trip.scope(), Scope::Interprovincial);
        assert_eq!(trip.reason, Reason::Safety);
        let halifax: Trip = serde_json::from_value(json!({
            "origin": {"city": "Halifax", "province": "NS"},
            "destination": {"city": "Port-au-Prince", "country": "HT"},
            "reason": "family"
        }))
        .unwrap();
        assert_eq!(halifax.scope(), Scope::International);
    }

    #[test]
    fn a_hotel_stay_costs_nights_times_the_rate() {
        let stay = HotelStay::new(2, money("189.00"), 1).unwrap();
        assert_eq!(stay.amount(), money("378.00"));
        assert_eq!(stay.nights(), 2);
        assert_eq!(stay.party_size(), 1);
        assert_eq!(stay.nightly_rate(), money("189.00"));
        assert_eq!(
            HotelStay::new(3, money("0.01"), 12)
                .unwrap()
                .amount()
                .cents(),
            3
        );
    }

    #[test]
    fn nights_go_from_one_to_thirty() {
        assert!(HotelStay::new(1, money("100"), 1).is_ok());
        assert!(HotelStay::new(30, money("100"), 1).is_ok());
        for bad in [0, 31, -1, i64::MAX, i64::MIN] {
            let err = HotelStay::new(bad, money("100"), 1).unwrap_err();
            assert_eq!(err, HotelStayError::Nights, "{bad}");
            assert_eq!(err.field(), "nights");
        }
    }

    #[test]
    fn a_party_has_one_to_twelve_people() {
        assert!(HotelStay::new(1, money("100"), 12).is_ok());
        for bad in [0, 13, -3] {
            let err = HotelStay::new(1, money("100"), bad).unwrap_err();
            assert_eq!(err, HotelStayError::PartySize);
            assert_eq!(err.field(), "party_size");
        }
    }

    #[test]
    fn a_stay_dearer_than_the_largest_amount_is_refused() {
        assert_eq!(
            HotelStay::new(30, money("3333.33"), 1).unwrap().amount(),
            money("99999.90")
        );
        let err = HotelStay::new(30, money("3333.34"), 1).unwrap_err();
        assert_eq!(err, HotelStayError::TooExpensive);
        assert_eq!(err.field(), "nightly_rate");
        assert_eq!(
            HotelStay::new(2, money("100000.00"), 1),
            Err(HotelStayError::TooExpensive)
        );
    }
}
