//! `notify.email`: one e-mail about a job that ended: complete (with signed
//! links to every stored object of its result) or failed (its code and
//! message). Queued by the database when a job submitted with `notify` first
//! ends. The delivery is recorded before the SMTP send and after it
//! (`email_deliveries`, keyed by this job), so a re-run never sends again a
//! message the relay accepted; a run that died between the send and the
//! record sends again with the same Message-ID.
use atelier_config::EmailConfig;
use atelier_db::emails::Delivery;
use atelier_jobs::{ErrorCode, JobKind, JobStatus, NotifyEmailInput, NotifyEmailResult};
use atelier_runtime::{Handler, JobContext, JobFailure};
use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::Value;

pub struct Email {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Email {
    /// The relay from `email.smtp_url`; nothing connects until a message.
    pub fn new(config: &EmailConfig) -> anyhow::Result<Email> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(config.smtp_url.expose())
            .map_err(|e| anyhow::anyhow!("email.smtp_url: {e}"))?
            .timeout(Some(config.timeout.get()))
            .build();
        let from = config
            .from
            .parse()
            .map_err(|e| anyhow::anyhow!("email.from: {e}"))?;
        Ok(Email { transport, from })
    }
}

/// Every stored object (`key` + `format`) in a result, with its path.
fn objects(value: &Value, path: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            if let (Some(Value::String(key)), true) = (map.get("key"), map.contains_key("format")) {
                out.push((path.to_owned(), key.clone()));
            }
            for (k, v) in map {
                objects(v, &format!("{path}.{k}"), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                objects(v, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

#[async_trait::async_trait]
impl Handler for Email {
    fn kind(&self) -> JobKind {
        JobKind::NotifyEmail
    }

    async fn run(&self, ctx: &JobContext<'_>) -> Result<Value, JobFailure> {
        let input: NotifyEmailInput = ctx.input()?;
        let job = ctx.job();
        let about = atelier_db::jobs::get(ctx.pool(), input.about_job_id)
            .await?
            .filter(|a| a.client_id == job.client_id && a.user_id == job.user_id)
            .ok_or_else(|| {
                JobFailure::abort(
                    ErrorCode::JobNotFound,
                    format!("job {} not found", input.about_job_id),
                )
            })?;
        let status = about.status;
        if !status.is_final() {
            return Err(JobFailure::abort(
                ErrorCode::RequestInvalid,
                format!("job {} has not ended ({})", about.id, about.status),
            ));
        }
        let to: Mailbox = input
            .to
            .parse()
            .map_err(|e| JobFailure::abort(ErrorCode::RequestInvalid, format!("input.to: {e}")))?;

        let (subject, body) = if status == JobStatus::Complete {
            let mut found = Vec::new();
            if let Some(result) = &about.result {
                objects(result, "result", &mut found);
            }
            let mut body = format!("Your {} job {} is complete.\n", about.kind, about.id);
            if !found.is_empty() {
                body.push_str("\nYour files (links valid for a limited time):\n");
                for (path, key) in found.iter().take(50) {
                    let url = ctx.storage().signed_url(key).await?;
                    body.push_str(&format!("- {path}: {url}\n"));
                }
            }
            (format!("Your {} job is complete", about.kind), body)
        } else {
            let (code, message) = match &about.error {
                Some(error) => (error.code, error.message.as_str()),
                None => (ErrorCode::Internal, ""),
            };
            (
                format!("Your {} job failed ({code})", about.kind),
                format!(
                    "Your {} job {} ended {}.\n\nCode: {code}\nReason: {message}\n",
                    about.kind, about.id, about.status
                ),
            )
        };

        let message_id = format!("<{}@atelier.notify>", ctx.id());
        let delivery =
            atelier_db::emails::begin(ctx.pool(), ctx.fence(), about.id, &input.to, &message_id)
                .await?;
        let (reply, tries, resent) = match delivery {
            Delivery::AlreadySent { reply, .. } => (reply.unwrap_or_default(), 0, false),
            Delivery::Send { message_id, tries } => {
                let message = Message::builder()
                    .from(self.from.clone())
                    .to(to)
                    .subject(subject)
                    .message_id(Some(message_id))
                    .header(ContentType::TEXT_PLAIN)
                    .body(body)
                    .map_err(|e| JobFailure::abort(ErrorCode::RequestInvalid, e.to_string()))?;
                let response = self.transport.send(message).await.map_err(|e| {
                    if e.is_permanent() {
                        JobFailure::abort(ErrorCode::EmailRejected, e.to_string())
                    } else {
                        JobFailure::retry(ErrorCode::EmailUnavailable, e.to_string())
                    }
                })?;
                let reply = response.message().collect::<Vec<_>>().join(" ");
                atelier_db::emails::sent(ctx.pool(), ctx.id(), &reply).await?;
                (reply, tries, tries > 1)
            }
        };
        let about_status = status;
        let result = serde_json::to_value(NotifyEmailResult {
            to: input.to.clone(),
            about_job_id: about.id,
            about_status,
            message_id: format!("<{}@atelier.notify>", ctx.id()),
            relay_reply: reply,
            send_attempts: u32::try_from(tries).unwrap_or(0),
            resent_after_crash: resent,
        })
        .expect("a result always serialises");
        atelier_db::jobs::complete(ctx.pool(), ctx.fence(), &result).await?;
        Ok(result)
    }
}
