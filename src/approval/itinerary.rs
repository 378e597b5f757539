//! Where a travel request goes, as the answer page shows it: "Montréal, QC → Ottawa, ON ·
//! between provinces". The scope is derived from the two stored places, as when the
//! request was made; once the cities are purged there is no itinerary to show.

use crate::domain::place::{Place, Scope};
use crate::on_tx;
use crate::store::{StoreError, Tx};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Itinerary {
    pub origin: Place,
    pub destination: Place,
}

impl Itinerary {
    pub fn scope(&self) -> Scope {
        Scope::of(&self.origin, &self.destination)
    }
}

type PlaceColumns = (Option<String>, Option<String>, Option<String>);

fn place((city, province, country): PlaceColumns) -> Option<Place> {
    Place::parse(&city?, province.as_deref(), country.as_deref()).ok()
}

/// The itinerary of request `id`, for a reader who may already read the request; `None`
/// for a request that is not a trip, or whose cities were purged.
pub async fn of(tx: &mut Tx, id: &str) -> Result<Option<Itinerary>, StoreError> {
    type Row = (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let row: Option<Row> = on_tx!(tx, c => sqlx::query_as(
        "SELECT origin_city, origin_province, origin_country,
                destination_city, destination_province, destination_country
           FROM requests WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(c)
    .await)?;
    Ok(row.and_then(|(oc, op, oco, dc, dp, dco)| {
        Some(Itinerary {
            origin: place((oc, op, oco))?,
            destination: place((dc, dp, dco))?,
        })
    }))
}
