//! The figures of a run: computed from the wave, printed as a table and
//! written as JSON.
//!
//! Files, one per part of the report: `summary.rs` everything a run
//! reports ([`Summary`]) and its JSON, `table.rs` the printed table,
//! `wave_figures.rs` the wave's own figures, `latency.rs` the percentiles,
//! `stamped.rs` the figures by the server's decision stamps, `cost.rs` the
//! CPU and admission transactions, `waitlist.rs` the waitlist scenario's.

mod cost;
mod latency;
mod stamped;
mod summary;
mod table;
mod waitlist;
mod wave_figures;

pub use cost::{micros_per_request, AdmissionUse, CpuUse};
pub use latency::Latency;
pub use stamped::{
    eta_accuracy, server_time_to_decision, stamped_rates, EtaAccuracy, StampedRates,
};
pub use summary::Summary;
pub use waitlist::WaitlistFigures;
pub use wave_figures::WaveFigures;
