//! Who people are to Passage: emails, passwords, roles, organisation types, languages.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A staff member's email address, trimmed and in lower case, so one person has one
/// account whatever case they type.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Email(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("is not an email address such as someone@example.org")]
pub struct EmailError;

impl Email {
    pub fn parse(s: &str) -> Result<Self, EmailError> {
        let s = s.trim().to_lowercase();
        let Some((local, domain)) = s.split_once('@') else {
            return Err(EmailError);
        };
        let ok = !local.is_empty()
            && s.len() <= 254
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains('@')
            && !s.chars().any(|c| c.is_whitespace() || c.is_control());
        if ok { Ok(Email(s)) } else { Err(EmailError) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A password as typed, at least [`Password::MIN_CHARS`] characters. It has no `Display`
/// and its `Debug` prints nothing of it, so it cannot reach a log by accident.
#[derive(Clone)]
pub struct Password(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("must be at least 12 characters: a few unrelated words make a good one")]
    TooShort,
    #[error("must be at most 1024 characters")]
    TooLong,
}

impl Password {
    pub const MIN_CHARS: usize = 12;
    pub const MAX_CHARS: usize = 1024;

    pub fn parse(s: String) -> Result<Self, PasswordError> {
        let n = s.chars().count();
        if n < Self::MIN_CHARS {
            Err(PasswordError::TooShort)
        } else if n > Self::MAX_CHARS {
            Err(PasswordError::TooLong)
        } else {
            Ok(Password(s))
        }
    }

    /// The secret itself, for the hasher only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Caseworker,
    Treasurer,
    Admin,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a role: use caseworker, treasurer or admin")]
pub struct RoleError(pub String);

impl Role {
    pub const ALL: [Role; 3] = [Role::Caseworker, Role::Treasurer, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Caseworker => "caseworker",
            Role::Treasurer => "treasurer",
            Role::Admin => "admin",
        }
    }
}

impl FromStr for Role {
    type Err = RoleError;
    fn from_str(s: &str) -> Result<Self, RoleError> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim())
            .ok_or_else(|| RoleError(s.to_string()))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A non-empty set of roles, sorted, without repeats: one row each in `user_roles`;
/// `caseworker,treasurer` on the command line and in audit events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Roles(Vec<Role>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RolesError {
    #[error("must name at least one role: caseworker, treasurer or admin")]
    Empty,
    #[error(transparent)]
    Unknown(#[from] RoleError),
}

impl Roles {
    pub fn new(mut roles: Vec<Role>) -> Result<Self, RolesError> {
        roles.sort();
        roles.dedup();
        if roles.is_empty() {
            return Err(RolesError::Empty);
        }
        Ok(Roles(roles))
    }

    /// Parses `caseworker,treasurer` (the command line's form).
    pub fn parse_list(s: &str) -> Result<Self, RolesError> {
        let roles = s
            .split(',')
            .filter(|p| !p.trim().is_empty())
            .map(Role::from_str)
            .collect::<Result<Vec<_>, _>>()?;
        Roles::new(roles)
    }

    pub fn contains(&self, role: Role) -> bool {
        self.0.contains(&role)
    }

    pub fn iter(&self) -> impl Iterator<Item = Role> + '_ {
        self.0.iter().copied()
    }

    pub fn to_list(&self) -> String {
        self.0
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// The kinds of member organisation (DESIGN.md, "Organisation types").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrgType {
    Shelter,
    Youth,
    LegalAid,
    VictimServices,
    ImmigrantSupport,
    SexWorkerSupport,
    LabourRights,
    Indigenous,
    Health,
    Coalition,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not an organisation type: use shelter, youth, legal_aid, victim_services, \
     immigrant_support, sex_worker_support, labour_rights, indigenous, health, coalition or other"
)]
pub struct OrgTypeError(pub String);

impl OrgType {
    pub const ALL: [OrgType; 11] = [
        OrgType::Shelter,
        OrgType::Youth,
        OrgType::LegalAid,
        OrgType::VictimServices,
        OrgType::ImmigrantSupport,
        OrgType::SexWorkerSupport,
        OrgType::LabourRights,
        OrgType::Indigenous,
        OrgType::Health,
        OrgType::Coalition,
        OrgType::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrgType::Shelter => "shelter",
            OrgType::Youth => "youth",
            OrgType::LegalAid => "legal_aid",
            OrgType::VictimServices => "victim_services",
            OrgType::ImmigrantSupport => "immigrant_support",
            OrgType::SexWorkerSupport => "sex_worker_support",
            OrgType::LabourRights => "labour_rights",
            OrgType::Indigenous => "indigenous",
            OrgType::Health => "health",
            OrgType::Coalition => "coalition",
            OrgType::Other => "other",
        }
    }
}

impl FromStr for OrgType {
    type Err = OrgTypeError;
    fn from_str(s: &str) -> Result<Self, OrgTypeError> {
        OrgType::ALL
            .into_iter()
            .find(|t| t.as_str() == s.trim())
            .ok_or_else(|| OrgTypeError(s.to_string()))
    }
}

/// The language a person reads Passage in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    #[default]
    Fr,
    En,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a language Passage speaks: use fr or en")]
pub struct LanguageError(pub String);

impl Language {
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Fr => "fr",
            Language::En => "en",
        }
    }
}

impl FromStr for Language {
    type Err = LanguageError;
    fn from_str(s: &str) -> Result<Self, LanguageError> {
        match s.trim() {
            "fr" => Ok(Language::Fr),
            "en" => Ok(Language::En),
            other => Err(LanguageError(other.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(
            Email::parse("  Ana@Example.ORG ").unwrap().as_str(),
            "ana@example.org"
        );
        for bad in [
            "",
            "ana",
            "@example.org",
            "ana@",
            "ana@org",
            "a b@example.org",
            "a@b@example.org",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_password_is_long_enough_and_never_printed() {
        assert_eq!(
            Password::parse("short".into()).unwrap_err(),
            PasswordError::TooShort
        );
        let p = Password::parse("correct horse battery".into()).unwrap();
        assert!(!format!("{p:?}").contains("horse"));
    }

    #[test]
    fn roles_parse_sorted_and_without_repeats() {
        let r = Roles::parse_list("treasurer,caseworker,treasurer").unwrap();
        assert_eq!(r.to_list(), "caseworker,treasurer");
        assert!(r.contains(Role::Treasurer) && !r.contains(Role::Admin));
        assert_eq!(Roles::parse_list("").unwrap_err(), RolesError::Empty);
        assert!(Roles::parse_list("root").is_err());
    }

    #[test]
    fn org_types_are_the_fixed_list() {
        for t in OrgType::ALL {
            assert_eq!(t.as_str().parse::<OrgType>().unwrap(), t);
        }
        assert!("church".parse::<OrgType>().is_err());
        assert_eq!("en".parse::<Language>().unwrap(), Language::En);
        assert!("es".parse::<Language>().is_err());
    }
}
