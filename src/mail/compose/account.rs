//! The emails of one's own account: a link to set a new password, an invitation.

use askama::Template;

use super::{ComposeError, Words, Written, written};
use crate::domain::Language;

/// A password reset link, to the account's own address.
#[derive(Debug, Clone)]
pub struct PasswordReset {
    pub language: Language,
    /// The page `/reset?token=...` on `PASSAGE_BASE_URL`.
    pub link: String,
}

#[derive(Template)]
#[template(path = "email/password_reset.txt")]
struct ResetText<'a> {
    w: Words,
    m: &'a PasswordReset,
    intro: &'a str,
}

#[derive(Template)]
#[template(path = "email/password_reset.html")]
struct ResetHtml<'a> {
    w: Words,
    subject: &'a str,
    m: &'a PasswordReset,
    intro: &'a str,
}

impl PasswordReset {
    pub fn write(&self) -> Result<Written, ComposeError> {
        let w = Words(self.language);
        let subject = w.t("email-reset-subject");
        let intro = w.t("email-reset-intro");
        written(
            subject.clone(),
            &ResetText {
                w,
                m: self,
                intro: &intro,
            },
            &ResetHtml {
                w,
                subject: &subject,
                m: self,
                intro: &intro,
            },
        )
    }
}

/// An invitation to Passage: a link to set one's first password, to the invitee's address.
#[derive(Debug, Clone)]
pub struct Invitation {
    pub language: Language,
    /// The page `/invitation?token=...` on `PASSAGE_BASE_URL`.
    pub link: String,
}

#[derive(Template)]
#[template(path = "email/invitation.txt")]
struct InvitationText<'a> {
    w: Words,
    m: &'a Invitation,
}

#[derive(Template)]
#[template(path = "email/invitation.html")]
struct InvitationHtml<'a> {
    w: Words,
    subject: &'a str,
    m: &'a Invitation,
}

impl Invitation {
    pub fn write(&self) -> Result<Written, ComposeError> {
        let w = Words(self.language);
        let subject = w.t("email-invitation-subject");
        written(
            subject.clone(),
            &InvitationText { w, m: self },
            &InvitationHtml {
                w,
                subject: &subject,
                m: self,
            },
        )
    }
}
