use crate::{Result, Store, store::dispatch};

/// Who holds a lease, and until when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The duty, e.g. `task:7`.
    pub name: String,
    /// The replica holding it.
    pub holder: String,
    /// When it lapses unless renewed, unix milliseconds.
    pub expires_at_ms: i64,
}

impl Store {
    /// Takes or renews the lease `name` for `holder` until `until_ms`, if it is free, lapsed at `now_ms`, or already
    /// `holder`'s; whether `holder` holds it now. One statement, so two replicas racing for a lapsed lease cannot
    /// both win it.
    pub async fn try_lease(&self, name: &str, holder: &str, now_ms: i64, until_ms: i64) -> Result<bool> {
        let sql = "INSERT INTO leases (name, holder, expires_at_ms) VALUES ($1, $2, $3) \
                   ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at_ms = excluded.expires_at_ms \
                   WHERE leases.holder = excluded.holder OR leases.expires_at_ms < $4";
        let taken = dispatch!(self, pool => sqlx::query(sql)
            .bind(name)
            .bind(holder)
            .bind(until_ms)
            .bind(now_ms)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(taken > 0)
    }

    /// Gives up `holder`'s lease `name` at once (a replica shutting down), so another need not wait for it to lapse.
    /// Whether it was held.
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<bool> {
        let sql = "DELETE FROM leases WHERE name = $1 AND holder = $2";
        Ok(dispatch!(self, pool => sqlx::query(sql).bind(name).bind(holder).execute(pool).await?.rows_affected()) > 0)
    }

    /// The lease `name`, held or lapsed, if anyone ever took it.
    pub async fn get_lease(&self, name: &str) -> Result<Option<Lease>> {
        let sql = "SELECT holder, expires_at_ms FROM leases WHERE name = $1";
        let row: Option<(String, i64)> =
            dispatch!(self, pool => sqlx::query_as(sql).bind(name).fetch_optional(pool).await?);
        Ok(row.map(|(holder, expires_at_ms)| Lease { name: name.to_owned(), holder, expires_at_ms }))
    }
}
