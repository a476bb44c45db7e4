//! Every sentence of the account emails, in one place: the plain-text and
//! HTML templates of an email read the same strings, so a translation is
//! one file.

use warden_core::auth::security_email::Notice;

/// The strings of one language.
pub struct Strings {
    pub sign_in_code_subject: &'static str,
    pub sign_in_code_intro: &'static str,
    pub sign_in_code_valid: &'static str,
    pub sign_in_code_link: &'static str,
    pub sign_in_code_not_you: &'static str,
    pub password_reset_subject: &'static str,
    pub password_reset_intro: &'static str,
    pub password_reset_button: &'static str,
    pub password_reset_valid: &'static str,
    pub password_reset_not_you: &'static str,
    pub verify_email_subject: &'static str,
    pub verify_email_intro: &'static str,
    pub verify_email_button: &'static str,
    pub verify_email_valid: &'static str,
    pub new_device: NoticeStrings,
    pub password_changed: NoticeStrings,
    pub factor_added: NoticeStrings,
    pub factor_removed: NoticeStrings,
    pub key_created: NoticeStrings,
    pub email_changed: NoticeStrings,
    /// `{org}` is the org's name.
    pub invitation_subject: &'static str,
    /// `{inviter}` and `{org}` are names.
    pub invitation_intro: &'static str,
    pub invitation_button: &'static str,
    pub invitation_valid: &'static str,
    pub footer: &'static str,
}

/// The sentences of one security notice.
pub struct NoticeStrings {
    pub subject: &'static str,
    /// What happened.
    pub intro: &'static str,
    /// What to do if it was not the user.
    pub advice: &'static str,
}

impl Strings {
    pub fn notice(&self, notice: Notice) -> &NoticeStrings {
        match notice {
            Notice::NewDevice => &self.new_device,
            Notice::PasswordChanged => &self.password_changed,
            Notice::FactorAdded => &self.factor_added,
            Notice::FactorRemoved => &self.factor_removed,
            Notice::KeyCreated => &self.key_created,
            Notice::EmailChanged => &self.email_changed,
        }
    }
}

pub const EN: Strings = Strings {
    sign_in_code_subject: "Your sign-in code",
    sign_in_code_intro: "Use this code to sign in:",
    sign_in_code_valid: "It is valid for 10 minutes and can be used once.",
    sign_in_code_link: "Or open this link in the browser where you asked for the code:",
    sign_in_code_not_you: "If you did not ask to sign in, ignore this email: nobody can sign in without the code. Do not share it; Warden never asks for it.",
    password_reset_subject: "Reset your password",
    password_reset_intro: "Someone asked to reset the password of your account. To choose a new password, open this link:",
    password_reset_button: "Choose a new password",
    password_reset_valid: "The link works once, for 30 minutes. Choosing a new password signs you out everywhere; then sign in with it (your second factor is still asked for).",
    password_reset_not_you: "If you did not ask for this, ignore this email: your password stays as it is. Nobody can use the link without this email.",
    verify_email_subject: "Confirm your new sign-in address",
    verify_email_intro: "You asked to sign in with this address from now on. To confirm that it is yours, open this link:",
    verify_email_button: "Confirm this address",
    verify_email_valid: "The link works once, for 24 hours. Until you confirm, you keep signing in with your old address. If you did not ask for this, ignore this email: nothing changes.",
    new_device: NoticeStrings {
        subject: "New sign-in to your account",
        intro: "Someone signed in to your account, or began to (a second factor, if you have one, was asked for), from a device it was never used on before.",
        advice: "If this was you, there is nothing to do. If not, change your password now and sign out the other devices (Settings, Sessions), then tell your administrator.",
    },
    password_changed: NoticeStrings {
        subject: "Your password was changed",
        intro: "The password of your account was changed, and every other session of yours was signed out.",
        advice: "If you did not change it, reset it now from the sign-in page (Forgot your password?) and tell your administrator.",
    },
    factor_added: NoticeStrings {
        subject: "A second factor was added to your account",
        intro: "A second factor was set up on your account.",
        advice: "If you did not set it up, someone else may be signed in as you: change your password, remove the factor (Settings, Two-factor) and tell your administrator.",
    },
    factor_removed: NoticeStrings {
        subject: "A second factor was removed from your account",
        intro: "A second factor was removed from your account.",
        advice: "If you did not expect this, tell your administrator at once, and set up a second factor again (Settings, Two-factor).",
    },
    key_created: NoticeStrings {
        subject: "An API key was created",
        intro: "An API key was created on your account, or by you.",
        advice: "If you did not create it, revoke it (Settings, API keys) and tell your administrator.",
    },
    email_changed: NoticeStrings {
        subject: "Your sign-in address was changed",
        intro: "The address you sign in with was changed. This address no longer signs in to the account, and gets no more emails about it.",
        advice: "If you did not change it, tell your administrator at once: they can change it back and secure the account.",
    },
    invitation_subject: "You are invited to {org}",
    invitation_intro: "{inviter} invited you to sign in to {org}. To accept, choose your password:",
    invitation_button: "Accept the invitation",
    invitation_valid: "The link works once, for 7 days. If you did not expect this invitation, ignore this email.",
    footer: "Sent by Warden, the sign-in service of your organization.",
};
