//! What every handler shares: the database, the clock, the configuration and the
//! instance's group writer for the same-night path. Built by [`crate::app`], read by
//! [`crate::http`] and [`crate::web`]; it depends on neither.

use std::sync::Arc;

use crate::approval::FlowError;
use crate::approval::submit::Submission;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::idempotency::{Keyed, Stored};
use crate::store::Db;
use crate::store::group::GroupCommit;

/// The group writer submissions go through: each carries its Idempotency-Key, and is
/// answered with what the HTTP edge stored for that key.
pub type Grouped = GroupCommit<Stored, FlowError, Arc<Keyed<Submission>>>;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub clock: SharedClock,
    pub config: Arc<Config>,
    /// The instance's group commit for the same-night path (see [`crate::store::group`]).
    pub grouped: Grouped,
    /// When sessions were last seen on this instance, written out once a minute (see
    /// [`crate::identity::sessions`]).
    pub activity: Arc<crate::identity::sessions::Activity>,
    /// The last verification of each sealed report, for the donors' pages (see
    /// [`crate::reports::checks`]).
    pub checks: Arc<crate::reports::checks::Checks>,
}
