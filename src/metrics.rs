//! The service's Prometheus registry. Each stage registers its own metrics here at start; the
//! HTTP listener renders them at `/metrics`. Metric labels never carry credentials or URLs.

use prometheus::{Encoder, IntGauge, Registry, TextEncoder};

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry =
            Registry::new_custom(Some("vigil".into()), None).expect("static prefix is valid");
        let m = Metrics { registry };
        let up = IntGauge::new("up", "1 while the service runs").expect("static metric");
        up.set(1);
        m.register(Box::new(up));
        m
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Registers a collector; a duplicate registration is a programming error and is logged.
    pub fn register(&self, c: Box<dyn prometheus::core::Collector>) {
        if let Err(e) = self.registry.register(c) {
            tracing::error!(%e, "metric registration failed");
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            tracing::error!(%e, "encoding metrics");
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}
