//! A loaded config checked once, before anything starts: combinations
//! that cannot work, and every number, duration and size within the range
//! it makes sense in, each refusal naming the field.
use std::time::Duration;

use crate::{AppConfig, HumanDuration, StorageBackend};

impl AppConfig {
    pub(crate) fn validate(&self) -> Result<(), String> {
        let mut api_keys = Vec::new();
        for entry in &self.intake.api_keys {
            api_keys.push(crate::secrets::parse_api_key(entry)?.key);
        }
        let mut operator_keys = Vec::new();
        for entry in &self.intake.operator_keys {
            operator_keys.push(crate::secrets::parse_api_key(entry)?.key);
        }
        let mut viewer_keys = Vec::new();
        for entry in &self.intake.viewer_keys {
            viewer_keys.push(crate::secrets::parse_api_key(entry)?.key);
        }
        if api_keys
            .iter()
            .any(|k| operator_keys.contains(k) || viewer_keys.contains(k))
            || operator_keys.iter().any(|k| viewer_keys.contains(k))
        {
            return Err(
                "intake.api_keys, intake.operator_keys, intake.viewer_keys: a key is a client's, an operator's or a viewer's, only one"
                    .into(),
            );
        }
        if api_keys
            .iter()
            .chain(&operator_keys)
            .chain(&viewer_keys)
            .any(|k| k.len() < 8)
        {
            return Err(
                "intake.api_keys, intake.operator_keys, intake.viewer_keys: every key must be at least 8 characters"
                    .into(),
            );
        }
        let ttl = self.intake.console_session_ttl.get();
        if ttl < Duration::from_secs(60) || ttl > Duration::from_secs(30 * 86_400) {
            return Err("intake.console_session_ttl: 1 minute to 30 days".into());
        }
        let per_address = self.intake.per_address_per_second;
        if !per_address.is_finite() || per_address <= 0.0 || self.intake.per_address_burst == 0 {
            return Err(
                "intake.per_address_per_second, intake.per_address_burst: must be positive".into(),
            );
        }
        if !(1..=10_000).contains(&self.flows.max_nodes) {
            return Err("flows.max_nodes: 1 to 10000".into());
        }
        if self.intake.max_open_jobs_per_client == 0 {
            return Err("intake.max_open_jobs_per_client: must be positive".into());
        }
        if self.intake.max_in_flight == 0 || self.intake.max_uploads_in_flight == 0 {
            return Err(
                "intake.max_in_flight, intake.max_uploads_in_flight: must be positive".into(),
            );
        }
        let rate = self.intake.rate_limit_per_second;
        if !rate.is_finite() || rate <= 0.0 || self.intake.rate_limit_burst == 0 {
            return Err(
                "intake.rate_limit_per_second, intake.rate_limit_burst: must be positive".into(),
            );
        }
        if self.storage.backend == StorageBackend::S3 && self.storage.s3.bucket.is_empty() {
            return Err("storage.s3.bucket: required when storage.backend = \"s3\"".into());
        }
        if self.media.variant_widths.is_empty() || self.media.variant_widths.contains(&0) {
            return Err("media.variant_widths: at least one positive width".into());
        }
        if !(1..=100).contains(&self.media.jpeg_quality)
            || !(1..=100).contains(&self.media.webp_quality)
        {
            return Err("media.jpeg_quality, media.webp_quality: between 1 and 100".into());
        }
        if self.events.max_sockets_per_user == 0 || self.events.max_inbound_bytes < 16 {
            return Err(
                "events.max_sockets_per_user: positive; events.max_inbound_bytes: at least 16"
                    .into(),
            );
        }
        if self.events.retention_per_user == 0 || self.events.live_buffer == 0 {
            return Err("events.retention_per_user, events.live_buffer: must be positive".into());
        }
        if !(1..=64).contains(&self.models.max_batch)
            || !(1..=64).contains(&self.models.threads)
            || !(1..=64).contains(&self.models.sessions)
        {
            return Err(
                "models.max_batch, models.threads, models.sessions: between 1 and 64".into(),
            );
        }
        if !(1_000..=100_000_000).contains(&self.render.max_triangles)
            || !(256..=16_384).contains(&self.render.max_texture_dimension)
            || !(1..=64).contains(&self.render.max_parallel)
        {
            return Err(
                "render.max_triangles: 1000 to 100000000; render.max_texture_dimension: 256 to 16384; render.max_parallel: 1 to 64"
                    .into(),
            );
        }
        if !["pose", "isnet"].contains(&self.models.segmentation.as_str()) {
            return Err(format!(
                "models.segmentation: \"pose\" or \"isnet\", not {:?}",
                self.models.segmentation
            ));
        }
        self.check_bounds()
    }

    /// Every duration and size within the range it makes sense in, so a
    /// typo (`token_ttl = "9999999999d"`) stops the process at start-up,
    /// naming the field, instead of overflowing later.
    fn check_bounds(&self) -> Result<(), String> {
        const MS: Duration = Duration::from_millis(1);
        const SEC: Duration = Duration::from_secs(1);
        const MIN: Duration = Duration::from_secs(60);
        const HOUR: Duration = Duration::from_secs(3600);
        const DAY: Duration = Duration::from_secs(86_400);
        let (i, w, e) = (&self.intake, &self.worker, &self.events);
        let durations = [
            (
                "storage.signed_url_ttl",
                self.storage.signed_url_ttl,
                SEC,
                7 * DAY,
            ),
            ("intake.token_ttl", i.token_ttl, SEC, 30 * DAY),
            (
                "intake.upload_slot_wait",
                i.upload_slot_wait,
                Duration::ZERO,
                10 * MIN,
            ),
            (
                "intake.header_timeout",
                i.header_timeout,
                100 * MS,
                10 * MIN,
            ),
            (
                "intake.body_idle_timeout",
                i.body_idle_timeout,
                100 * MS,
                HOUR,
            ),
            ("intake.request_timeout", i.request_timeout, SEC, DAY),
            ("intake.outbox_interval", i.outbox_interval, 10 * MS, HOUR),
            ("intake.outbox_grace", i.outbox_grace, Duration::ZERO, DAY),
            (
                "intake.reconcile_interval",
                i.reconcile_interval,
                10 * MS,
                DAY,
            ),
            (
                "intake.reconcile_after",
                i.reconcile_after,
                Duration::ZERO,
                30 * DAY,
            ),
            (
                "intake.history_interval",
                i.history_interval,
                100 * MS,
                HOUR,
            ),
            (
                "intake.history_retention",
                i.history_retention,
                HOUR,
                365 * DAY,
            ),
            (
                "intake.search_idle_eviction",
                i.search_idle_eviction,
                SEC,
                30 * DAY,
            ),
            ("worker.max_poll_interval", w.max_poll_interval, MS, MIN),
            (
                "worker.shutdown_timeout",
                w.shutdown_timeout,
                Duration::ZERO,
                DAY,
            ),
            ("events.retention_age", e.retention_age, SEC, 3650 * DAY),
            ("events.ping_interval", e.ping_interval, 10 * MS, HOUR),
            ("events.idle_timeout", e.idle_timeout, 10 * MS, DAY),
            ("email.timeout", self.email.timeout, SEC, 10 * MIN),
            (
                "models.max_batch_delay",
                self.models.max_batch_delay,
                Duration::ZERO,
                SEC,
            ),
        ];
        for (field, value, min, max) in durations {
            if !(min..=max).contains(&value.get()) {
                return Err(format!(
                    "{field}: {value} is outside {} to {}",
                    HumanDuration(min),
                    HumanDuration(max)
                ));
            }
        }
        const MIB: u64 = 1024 * 1024;
        const GIB: u64 = 1024 * MIB;
        let sizes = [
            ("intake.max_upload_bytes", i.max_upload_bytes, 1, 64 * GIB),
            ("intake.max_json_bytes", i.max_json_bytes, 1024, 64 * MIB),
            ("media.max_pixels", self.media.max_pixels, 1, 1_000_000_000),
            (
                "render.max_model_bytes",
                self.render.max_model_bytes,
                1,
                16 * GIB,
            ),
            (
                "worker.max_rss",
                w.max_rss.map_or(GIB, |b| b.0),
                1,
                1024 * GIB,
            ),
        ];
        for (field, value, min, max) in sizes {
            if !(min..=max).contains(&value) {
                return Err(format!("{field}: {value} is outside {min} to {max}"));
            }
        }
        Ok(())
    }
}
