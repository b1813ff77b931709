//! The relay's TCP edge: the accept loop with a cap on connections and hyper's header-read
//! timeout ([`server`]), the per-connection I/O guard with its idle timeout ([`guard`]), the
//! open-file limit ([`nofile`]), and who a request came from ([`peer`]).

pub mod guard;
pub mod nofile;
pub mod peer;
pub mod server;

pub use crate::tls::Tls;
pub use peer::PeerAddr;
pub use server::{Limits, serve};
