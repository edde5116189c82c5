//! Admin accounts of the registrar's office: who an admin request comes
//! from ([`Actor`]), what it may do ([`Role`]), and accounts as they are
//! created and listed.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Invalid;

/// What an admin may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads and changes: courses, students, the window, admission, mail,
    /// admin accounts.
    Registrar,
    /// Reads only.
    Viewer,
}

impl Role {
    /// The name stored in `admins.role` and shown by the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registrar => "registrar",
            Self::Viewer => "viewer",
        }
    }

    /// The role stored as `name`, if it is one.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "registrar" => Some(Self::Registrar),
            "viewer" => Some(Self::Viewer),
            _ => None,
        }
    }

    /// Whether this role may change things (not only read them).
    pub fn may_change(self) -> bool {
        self == Self::Registrar
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who made an admin request: the bootstrap token (`ENROLL_ADMIN_TOKEN`),
/// or a named account through one of its sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Token,
    Account { id: i64, username: String },
}

/// How the bootstrap token is named in logs and records.
pub const TOKEN_LABEL: &str = "token";

impl Actor {
    /// The name logs and records attribute a change to: `token`, or the
    /// account's username (no account may be named `token`).
    pub fn label(&self) -> &str {
        match self {
            Self::Token => TOKEN_LABEL,
            Self::Account { username, .. } => username,
        }
    }
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// The longest username (and password) looked at when logging in; longer
/// ones are wrong without any work.
pub const MAX_USERNAME: usize = 64;
pub const MAX_PASSWORD: usize = 256;

/// Whether `name` is a valid username: 1 to 64 of `a-z 0-9 . _ -`, starting
/// with a letter or digit (the `admins.username` check), and not `token`
/// (what records name the bootstrap token by).
pub fn valid_username(name: &str) -> bool {
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    match name.as_bytes() {
        [first, rest @ ..] => {
            name.len() <= MAX_USERNAME
                && alnum(first)
                && rest.iter().all(|b| alnum(b) || b"._-".contains(b))
                && name != TOKEN_LABEL
        }
        [] => false,
    }
}

/// An account to create (the password is hashed, never stored).
#[derive(Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAdmin {
    /// 1 to 64 of `a-z 0-9 . _ -`, starting with a letter or digit; not
    /// `token` (what records name the bootstrap token by).
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[a-z0-9][a-z0-9._-]{0,63}$"
    )]
    pub username: String,
    /// 8 to 256 characters.
    #[schema(min_length = 8, max_length = 256)]
    pub password: String,
    pub role: Role,
}

impl std::fmt::Debug for NewAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAdmin")
            .field("username", &self.username)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl NewAdmin {
    pub fn validate(&self) -> Result<(), Invalid> {
        if !valid_username(&self.username) {
            return Err(Invalid::new(
                "invalid_field",
                "`username` must be 1 to 64 of a-z, 0-9, '.', '_' and '-', starting with a \
                 letter or digit, and not `token`",
            ));
        }
        // At most 256 characters, so at most 1 KiB for argon2 to hash.
        if !(8..=MAX_PASSWORD).contains(&self.password.chars().count()) {
            return Err(Invalid::new(
                "weak_password",
                "`password` must be 8 to 256 characters",
            ));
        }
        Ok(())
    }
}

/// An admin account as the API shows it (never its password hash).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AdminAccount {
    pub id: i64,
    pub username: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    /// Who created it: an admin's username, or `token`.
    pub created_by: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_the_tables_check() {
        for ok in ["a", "0", "kim.registrar", "ops_2", "a-b", &"x".repeat(64)] {
            assert!(valid_username(ok), "{ok}");
        }
        let too_long = "x".repeat(65);
        for bad in [
            "",
            "Kim",
            ".kim",
            "-kim",
            "_kim",
            "kim lee",
            "kim\n",
            "kím",
            "kim/lee",
            "token",
            too_long.as_str(),
        ] {
            assert!(!valid_username(bad), "{bad:?}");
        }
    }

    #[test]
    fn new_accounts_need_a_valid_name_and_a_long_enough_password() {
        let new = |username: &str, password: &str| NewAdmin {
            username: username.into(),
            password: password.into(),
            role: Role::Viewer,
        };
        assert_eq!(new("kim", "eight ch").validate(), Ok(()));
        assert_eq!(
            new("Kim", "long enough").validate().unwrap_err().code,
            "invalid_field"
        );
        assert_eq!(
            new("kim", "short").validate().unwrap_err().code,
            "weak_password"
        );
        // Characters, not bytes: eight Hangul syllables are enough.
        assert_eq!(new("kim", "비밀번호비밀번호").validate(), Ok(()));
        assert_eq!(
            new("kim", &"p".repeat(257)).validate().unwrap_err().code,
            "weak_password"
        );
        // The password never shows in Debug output.
        assert!(!format!("{:?}", new("kim", "hunter2-secret")).contains("hunter2"));
    }

    #[test]
    fn roles_round_trip_and_only_registrars_change() {
        for role in [Role::Registrar, Role::Viewer] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
            assert_eq!(
                serde_json::to_value(role).unwrap(),
                serde_json::json!(role.as_str())
            );
        }
        assert_eq!(Role::parse("admin"), None);
        assert!(Role::Registrar.may_change() && !Role::Viewer.may_change());
    }

    #[test]
    fn actors_are_labelled_by_username_or_token() {
        let kim = Actor::Account {
            id: 7,
            username: "kim".into(),
        };
        assert_eq!((kim.label(), kim.to_string()), ("kim", "kim".to_string()));
        assert_eq!(Actor::Token.label(), "token");
        assert_eq!(Actor::Token.to_string(), "token");
    }
}
