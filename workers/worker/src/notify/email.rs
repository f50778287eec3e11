//! `notify.email`: one e-mail about a job that ended: complete (with signed
//! links to every stored object of its result) or failed (its code and
//! message); or about a flow that ended (each node's state, the completed
//! nodes' files). Queued by the database when a job or flow submitted with
//! `notify` ends. The delivery is recorded before the SMTP send and after it
//! (`email_deliveries`, keyed by this job), so a re-run never sends again a
//! message the relay accepted; a run that died between the send and the
//! record sends again with the same Message-ID.
use atelier_config::EmailConfig;
use atelier_db::emails::Delivery;
use atelier_jobs::flow::FlowStatus;
use atelier_jobs::{ErrorCode, JobKind, JobStatus, NotifyEmailInput, NotifyEmailResult};
use atelier_runtime::{Handler, JobContext, JobFailure};
use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::Value;
use uuid::Uuid;

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
        let to: Mailbox = input
            .to
            .parse()
            .map_err(|e| JobFailure::abort(ErrorCode::RequestInvalid, format!("input.to: {e}")))?;
        let letter = match (input.about_job_id, input.about_flow_id) {
            (Some(job), _) => about_job(ctx, job).await?,
            (None, Some(flow)) => about_flow(ctx, flow).await?,
            (None, None) => {
                return Err(JobFailure::abort(
                    ErrorCode::RequestInvalid,
                    "input: nothing to write about",
                ));
            }
        };
        let about = letter.about;
        let message_id = format!("<{}@atelier.notify>", ctx.id());
        let delivery =
            atelier_db::emails::begin(ctx.pool(), ctx.fence(), about, &input.to, &message_id)
                .await?;
        let (reply, tries, resent) = match delivery {
            Delivery::AlreadySent { reply, .. } => (reply.unwrap_or_default(), 0, false),
            Delivery::Send { message_id, tries } => {
                let message = Message::builder()
                    .from(self.from.clone())
                    .to(to)
                    .subject(letter.subject.clone())
                    .message_id(Some(message_id))
                    .header(ContentType::TEXT_PLAIN)
                    .body(letter.body.clone())
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
        let result = serde_json::to_value(NotifyEmailResult {
            to: input.to.clone(),
            about_job_id: letter.job_status.map(|_| about),
            about_status: letter.job_status,
            about_flow_id: letter.flow_status.map(|_| about),
            about_flow_status: letter.flow_status,
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

/// What an e-mail says, and what it is about.
struct Letter {
    about: Uuid,
    job_status: Option<JobStatus>,
    flow_status: Option<FlowStatus>,
    subject: String,
    body: String,
}

/// Signed links to every stored object of `result`, one line each.
async fn links(
    ctx: &JobContext<'_>,
    result: Option<&Value>,
    prefix: &str,
    body: &mut String,
) -> Result<(), JobFailure> {
    let mut found = Vec::new();
    if let Some(result) = result {
        objects(result, prefix, &mut found);
    }
    for (path, key) in found.iter().take(50) {
        let url = ctx.storage().signed_url(key).await?;
        body.push_str(&format!("- {path}: {url}\n"));
    }
    Ok(())
}

/// An ended job of the same user: complete (its files) or failed (why).
async fn about_job(ctx: &JobContext<'_>, id: Uuid) -> Result<Letter, JobFailure> {
    let job = ctx.job();
    let about = atelier_db::jobs::get(ctx.pool(), id)
        .await?
        .filter(|a| a.client_id == job.client_id && a.user_id == job.user_id)
        .ok_or_else(|| JobFailure::abort(ErrorCode::JobNotFound, format!("job {id} not found")))?;
    let status = about.status;
    if !status.is_final() {
        return Err(JobFailure::abort(
            ErrorCode::RequestInvalid,
            format!("job {} has not ended ({})", about.id, about.status),
        ));
    }
    let (subject, body) = if status == JobStatus::Complete {
        let mut body = format!("Your {} job {} is complete.\n", about.kind, about.id);
        let mut files = String::new();
        links(ctx, about.result.as_ref(), "result", &mut files).await?;
        if !files.is_empty() {
            body.push_str("\nYour files (links valid for a limited time):\n");
            body.push_str(&files);
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
    Ok(Letter {
        about: about.id,
        job_status: Some(status),
        flow_status: None,
        subject,
        body,
    })
}

/// An ended flow of the same user: how it ended, each node's state, and
/// the files of the nodes that completed.
async fn about_flow(ctx: &JobContext<'_>, id: Uuid) -> Result<Letter, JobFailure> {
    let job = ctx.job();
    let (flow, nodes) = atelier_db::flows::load(ctx.pool(), id)
        .await?
        .filter(|(f, _)| f.client_id == job.client_id && f.user_id == job.user_id)
        .ok_or_else(|| {
            JobFailure::abort(ErrorCode::FlowNotFound, format!("flow {id} not found"))
        })?;
    if flow.status == FlowStatus::Running {
        return Err(JobFailure::abort(
            ErrorCode::RequestInvalid,
            format!("flow {id} has not ended"),
        ));
    }
    let mut body = format!(
        "Your flow {id} ended {} ({} of {} steps ended).\n\n",
        flow.status.as_str(),
        flow.nodes_done,
        flow.nodes_total
    );
    let mut files = String::new();
    for node in &nodes {
        let name = node.flow.as_ref().map_or("", |f| f.name.as_str());
        body.push_str(&format!("- {name} ({}): {}", node.kind, node.status));
        if let Some(error) = &node.error {
            body.push_str(&format!(" ({}: {})", error.code, error.message));
        }
        body.push('\n');
        if node.status == JobStatus::Complete {
            links(ctx, node.result.as_ref(), name, &mut files).await?;
        }
    }
    if !files.is_empty() {
        body.push_str("\nYour files (links valid for a limited time):\n");
        body.push_str(&files);
    }
    let subject = match flow.status {
        FlowStatus::Complete => "Your flow is complete".to_owned(),
        status => format!("Your flow ended {}", status.as_str()),
    };
    Ok(Letter {
        about: id,
        job_status: None,
        flow_status: Some(flow.status),
        subject,
        body,
    })
}
