//! Deliveries of `notify.email` jobs: recorded before the SMTP send and after
//! it, keyed by the notify job, so a re-run of that job never sends again a
//! message the relay accepted.
use sqlx::PgPool;
use uuid::Uuid;

use crate::{DbError, Fence};

/// Where a delivery stands when a run starts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// No run sent it yet: send now (`tries` counts this one).
    Send { message_id: String, tries: i32 },
    /// The relay accepted it on an earlier run: do not send again.
    AlreadySent {
        message_id: String,
        reply: Option<String>,
    },
}

/// Record that this run is about to send (fenced). A row left `sending` by a
/// run that died mid-send is sent again with the same Message-ID, so a
/// receiving server can tell the copy from a new message.
pub async fn begin(
    pool: &PgPool,
    fence: Fence<'_>,
    about_job_id: Uuid,
    recipient: &str,
    message_id: &str,
) -> Result<Delivery, DbError> {
    let mut tx = Fence::hold(pool, fence).await?;
    let row = sqlx::query!(
        "INSERT INTO email_deliveries (job_id, about_job_id, recipient, message_id, state)
         VALUES ($1, $2, $3, $4, 'sending')
         ON CONFLICT (job_id) DO UPDATE SET tries = email_deliveries.tries + 1
             WHERE email_deliveries.state = 'sending'
         RETURNING state, tries, message_id, reply",
        fence.job,
        about_job_id,
        recipient,
        message_id
    )
    .fetch_optional(&mut *tx)
    .await?;
    let delivery = match row {
        Some(r) if r.state == "sending" => Delivery::Send {
            message_id: r.message_id,
            tries: r.tries,
        },
        _ => {
            let sent = sqlx::query!(
                "SELECT message_id, reply FROM email_deliveries WHERE job_id = $1",
                fence.job
            )
            .fetch_one(&mut *tx)
            .await?;
            Delivery::AlreadySent {
                message_id: sent.message_id,
                reply: sent.reply,
            }
        }
    };
    tx.commit().await?;
    Ok(delivery)
}

/// Record that the relay accepted the message. Not fenced: once the relay
/// has it, it is sent, whoever holds the job now.
pub async fn sent(pool: &PgPool, job_id: Uuid, reply: &str) -> Result<(), DbError> {
    sqlx::query!(
        "UPDATE email_deliveries SET state = 'sent', reply = $2, sent_at = now()
         WHERE job_id = $1",
        job_id,
        reply
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// How many deliveries were recorded sent for `about_job_id` (tests,
/// operators).
pub async fn sent_count(pool: &PgPool, about_job_id: Uuid) -> Result<i64, DbError> {
    Ok(sqlx::query_scalar!(
        "SELECT count(*) FROM email_deliveries WHERE about_job_id = $1 AND state = 'sent'",
        about_job_id
    )
    .fetch_one(pool)
    .await?
    .unwrap_or(0))
}
