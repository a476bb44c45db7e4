//! Sending an alert by email over SMTP (lettre).

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::message::Email;
use super::{EmailConfig, Failure};

/// A pooled SMTP connection to the configured server.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    /// Checks the URL and the sender; connects on first use.
    pub fn new(config: &EmailConfig, timeout: std::time::Duration) -> Result<Self, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&config.smtp_url)
            .map_err(|error| format!("smtp_url: {error}"))?
            .timeout(Some(timeout))
            .build();
        let from = config.from.parse().map_err(|error| format!("smtp_from: {error}"))?;
        Ok(Mailer { transport, from })
    }

    /// Sends `email` to `to`; `message_id` (Warden's id of the email)
    /// becomes its `Message-ID`, so a bounce can be traced to its event.
    pub async fn send(&self, to: &str, email: Email, message_id: Option<&str>) -> Result<(), Failure> {
        let to: Mailbox = to.parse().map_err(|_| Failure::permanent("the address is not valid"))?;
        let mut builder = Message::builder();
        if let Some(id) = message_id {
            builder = builder.message_id(Some(format!("<{id}@{}>", self.from.email.domain())));
        }
        let message = builder
            .from(self.from.clone())
            .to(to)
            .subject(email.subject)
            .multipart(
                MultiPart::alternative()
                    .singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(email.text))
                    .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(email.html)),
            )
            .map_err(|error| Failure::permanent(format!("the message could not be built: {error}")))?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(error) => {
                let code = error.status().map(|code| code.to_string());
                Err(Failure {
                    status: None,
                    error: match code {
                        Some(code) => format!("the mail server answered {code}"),
                        None if error.is_timeout() => "the mail server did not answer in time".into(),
                        None => "could not talk to the mail server".into(),
                    },
                    permanent: error.is_permanent(),
                    retry_after: None,
                })
            }
        }
    }
}
