//! Account email: each email composed from its askama templates (plain
//! text and HTML, the same strings, `strings`), sealed under a data key of
//! its own, and handed to the deliverer as `email.queued`
//! (`warden_alerting::deliver::AccountMail` sends it and shreds the key).

pub mod security;
pub mod strings;

use askama::Template;
use warden_core::NewEvent;
use warden_core::commands::Context;
use warden_core::commands::email::{self, EmailQueued, Envelope, email_subject};

use self::strings::{EN, NoticeStrings, Strings};
use crate::error::ApiError;
use crate::flows::{key_service, new_id};
use crate::state::AppState;
use warden_core::auth::security_email::Notice;

/// Who an email goes to.
pub struct Recipient<'a> {
    pub address: &'a str,
    pub user: Option<&'a str>,
    pub org: Option<&'a str>,
}

/// Every email Warden sends to people, with what it carries.
pub enum Message<'a> {
    SignInCode {
        code: &'a str,
        link: &'a str,
    },
    PasswordReset {
        link: &'a str,
    },
    /// The link that verifies a new sign-in address, to that address.
    VerifyEmail {
        link: &'a str,
    },
    /// A change to the user's account (`security::notices`): what
    /// happened, in labelled lines.
    Security {
        notice: Notice,
        details: &'a [(&'static str, String)],
    },
    /// An invitation to an org, with its link.
    Invitation {
        org: &'a str,
        inviter: &'a str,
        link: &'a str,
    },
}

#[derive(Template)]
#[template(path = "email/security_notice.txt")]
struct SecurityText<'a> {
    s: &'a Strings,
    notice: &'a NoticeStrings,
    details: &'a [(&'static str, String)],
}

#[derive(Template)]
#[template(path = "email/security_notice.html")]
struct SecurityHtml<'a> {
    s: &'a Strings,
    notice: &'a NoticeStrings,
    details: &'a [(&'static str, String)],
}

#[derive(Template)]
#[template(path = "email/verify_email.txt")]
struct VerifyEmailText<'a> {
    s: &'a Strings,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "email/verify_email.html")]
struct VerifyEmailHtml<'a> {
    s: &'a Strings,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "email/invitation.txt")]
struct InvitationText<'a> {
    s: &'a Strings,
    intro: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "email/invitation.html")]
struct InvitationHtml<'a> {
    s: &'a Strings,
    intro: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "email/password_reset.txt")]
struct PasswordResetText<'a> {
    s: &'a Strings,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "email/password_reset.html")]
struct PasswordResetHtml<'a> {
    s: &'a Strings,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "email/sign_in_code.txt")]
struct SignInCodeText<'a> {
    s: &'a Strings,
    code: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "email/sign_in_code.html")]
struct SignInCodeHtml<'a> {
    s: &'a Strings,
    code: &'a str,
    link: &'a str,
}

impl Message<'_> {
    /// The template's name, as `email.queued` records it.
    pub fn template(&self) -> &'static str {
        match self {
            Message::SignInCode { .. } => "sign_in_code",
            Message::PasswordReset { .. } => "password_reset",
            Message::Security { notice, .. } => match notice {
                Notice::NewDevice => "new_device",
                Notice::PasswordChanged => "password_changed",
                Notice::FactorAdded => "factor_added",
                Notice::FactorRemoved => "factor_removed",
                Notice::KeyCreated => "key_created",
                Notice::EmailChanged => "email_changed",
            },
            Message::Invitation { .. } => "invitation",
            Message::VerifyEmail { .. } => "verify_email",
        }
    }

    /// Subject, plain text and HTML.
    fn render(&self, s: &Strings) -> Result<(String, String, String), askama::Error> {
        match *self {
            Message::SignInCode { code, link } => Ok((
                s.sign_in_code_subject.to_string(),
                SignInCodeText { s, code, link }.render()?,
                SignInCodeHtml { s, code, link }.render()?,
            )),
            Message::PasswordReset { link } => Ok((
                s.password_reset_subject.to_string(),
                PasswordResetText { s, link }.render()?,
                PasswordResetHtml { s, link }.render()?,
            )),
            Message::VerifyEmail { link } => Ok((
                s.verify_email_subject.to_string(),
                VerifyEmailText { s, link }.render()?,
                VerifyEmailHtml { s, link }.render()?,
            )),
            Message::Security { notice, details } => {
                let notice = s.notice(notice);
                Ok((
                    notice.subject.to_string(),
                    SecurityText { s, notice, details }.render()?,
                    SecurityHtml { s, notice, details }.render()?,
                ))
            }
            Message::Invitation { org, inviter, link } => {
                let intro = s.invitation_intro.replace("{inviter}", inviter).replace("{org}", org);
                Ok((
                    s.invitation_subject.replace("{org}", org),
                    InvitationText { s, intro: &intro, link }.render()?,
                    InvitationHtml { s, intro: &intro, link }.render()?,
                ))
            }
        }
    }
}

/// Composes and seals `message` for `to`: its id, and the `email.queued`
/// event to append with the decision that sends it.
pub async fn queue(
    state: &AppState,
    context: &Context,
    to: Recipient<'_>,
    message: Message<'_>,
) -> Result<(String, NewEvent), ApiError> {
    let (subject, text, html) = message.render(&EN).map_err(|error| {
        tracing::error!(%error, template = message.template(), "an email template did not render");
        ApiError::internal("the email could not be composed")
    })?;
    let id = new_id();
    let envelope = Envelope {
        to: to.address.to_string(),
        subject,
        text,
        html,
    };
    let sealed = state
        .data_keys
        .seal(&email_subject(&id), &envelope)
        .await
        .map_err(key_service)?;
    let queued = EmailQueued {
        message: id.clone(),
        template: message.template().to_string(),
        user: to.user.map(str::to_string),
        org: to.org.map(str::to_string),
        envelope: sealed,
    };
    Ok((id, email::queued(context, &queued)))
}
