//! The measured requests' HTTP client: one persistent HTTP/1.1 keep-alive
//! connection per [`Client`], written straight onto a `TcpStream` (requests
//! serialized once into one buffer, answers parsed with `httparse`), in the
//! spirit of `wrk`: the load generator shares the machine with the system
//! under test, so every microsecond it spends per request is taken from the
//! server. No task hand-over per request, no header map, one write and
//! (usually) one read per exchange.
//!
//! A request on a reused connection that the server had already closed
//! (nothing of an answer came back) is retried once on a fresh connection;
//! any other failure drops the connection and the next request opens a new
//! one. The requests this tool repeats this way are idempotent on the server
//! (an enroll retried returns the same ticket).
//!
//! [`EventStream`] reads a long-lived answer (the ticket event stream) as
//! its chunks arrive, on a connection of its own.
//!
//! Files: `request.rs` encodes the requests ([`Endpoint`], [`Req`]),
//! `answer.rs` reads an answer's head and body framing, `client.rs` keeps
//! the connection and sends on it ([`Client`]), `stream.rs` reads event
//! streams ([`EventStream`]).

mod answer;
mod client;
mod request;
mod stream;

pub use client::{Client, REQUEST_TIMEOUT};
pub use request::{check_header_text, Endpoint, Req};
pub use stream::EventStream;

#[cfg(test)]
mod tests;
