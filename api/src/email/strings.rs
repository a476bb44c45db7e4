//! Every sentence of the account emails, in one place: the plain-text and
//! HTML templates of an email read the same strings, so a translation is
//! one file.

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
    pub footer: &'static str,
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
    footer: "Sent by Warden, the sign-in service of your organization.",
};
