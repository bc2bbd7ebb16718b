//! vigil: camera video analytics for a city operations center. See ARCHITECTURE.md for the map.
//! Modules follow the pipeline: ingest -> detect -> track -> rules -> incidents -> api, with
//! `camera`, `config`, `error`, `metrics` and `store` shared below them.

pub mod alloc;
pub mod analysis;
pub mod analyze;
pub mod api;
pub mod camera;
pub mod config;
pub mod demo;
pub mod detect;
pub mod error;
pub mod frame;
pub mod incidents;
pub mod ingest;
pub mod media;
pub mod metrics;
pub mod rules;
pub mod server;
pub mod store;
pub mod track;
