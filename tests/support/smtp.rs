//! An SMTP server on loopback (Debian's aiosmtpd writing a Maildir) for
//! the tests of e-mail.
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const SMTP_WAIT: Duration = Duration::from_secs(60);

/// An SMTP server on loopback that keeps every message it accepts.
pub struct SmtpSink {
    /// Stopped when the sink is dropped.
    _child: tokio::process::Child,
    maildir: PathBuf,
    pub port: u16,
}

impl SmtpSink {
    pub async fn start(dir: &Path) -> SmtpSink {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let maildir = dir.join("maildir");
        let child = tokio::process::Command::new("/usr/bin/python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .kill_on_drop(true)
            .spawn()
            .expect("python3-aiosmtpd (Debian) is installed by scripts/setup.sh");
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "the SMTP sink did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        SmtpSink {
            _child: child,
            maildir,
            port,
        }
    }

    /// A test environment whose workers send through this server.
    pub fn options(&self) -> crate::EnvOptions {
        crate::EnvOptions {
            extra_env: vec![(
                "ATELIER__EMAIL__SMTP_URL".into(),
                format!("smtp://127.0.0.1:{}", self.port),
            )],
            ..crate::EnvOptions::default()
        }
    }

    /// Every message received so far, as text.
    pub fn messages(&self) -> Vec<String> {
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            if let Ok(entries) = std::fs::read_dir(self.maildir.join(sub)) {
                for e in entries.flatten() {
                    out.push(std::fs::read_to_string(e.path()).unwrap());
                }
            }
        }
        out
    }

    /// Wait until `count` messages to `to` arrived; return them.
    pub async fn wait_for(&self, to: &str, count: usize) -> Vec<String> {
        let deadline = Instant::now() + SMTP_WAIT;
        loop {
            let mine: Vec<String> = self
                .messages()
                .into_iter()
                .filter(|m| m.contains(&format!("To: {to}")))
                .collect();
            if mine.len() >= count {
                return mine;
            }
            assert!(
                Instant::now() < deadline,
                "no e-mail to {to} within {SMTP_WAIT:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
