//! Who may give whom which role: one pure rule, [`decide`], for every way a
//! role is granted or taken away (creating a user, inviting one, changing a
//! role) and for acting on a user at all (status, sessions).
//!
//! - Only owners and admins manage users.
//! - Owners and auditors are the owners' business: only an owner grants,
//!   takes away or acts on either (an auditor reads the whole audit trail;
//!   an admin who could make one could read it too).
//! - Granting any role above member, and every change of an existing
//!   user's role, needs a recent strong authentication of the manager
//!   (step-up): a stolen, stale session cannot create or promote admins.

use crate::commands::account::Role;

/// What a manager asks to do to a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// Create (or invite) a user with this role.
    Create(Role),
    /// Change an existing user's role.
    Change { from: Role, to: Role },
    /// Act on an existing user without changing their role (status,
    /// sessions).
    ActOn(Role),
}

/// Why a grant is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantRefusal {
    /// The manager's role does not manage users.
    NotAManager,
    /// Only an owner grants, takes away or acts on this role.
    OwnerOnly(Role),
}

/// Whether the grant may go ahead once the manager's session is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepUp {
    /// The manager must have authenticated strongly and recently.
    Required,
    NotRequired,
}

/// The roles only an owner grants, takes away or acts on.
pub fn owner_only(role: Role) -> bool {
    matches!(role, Role::Owner | Role::Auditor)
}

/// Whether `manager` may grant or take away `role` (what a form offers).
pub fn may_grant(manager: Role, role: Role) -> bool {
    decide(manager, Grant::Create(role)).is_ok()
}

/// Whether `manager` may act on a user who holds `role`.
pub fn may_act_on(manager: Role, role: Role) -> bool {
    decide(manager, Grant::ActOn(role)).is_ok()
}

pub fn decide(manager: Role, grant: Grant) -> Result<StepUp, GrantRefusal> {
    if !manager.manages_users() {
        return Err(GrantRefusal::NotAManager);
    }
    let touched: &[Role] = match &grant {
        Grant::Create(role) | Grant::ActOn(role) => std::slice::from_ref(role),
        Grant::Change { from, to } => &[*from, *to],
    };
    if let Some(role) = touched.iter().copied().find(|role| owner_only(*role))
        && manager != Role::Owner
    {
        return Err(GrantRefusal::OwnerOnly(role));
    }
    Ok(match grant {
        Grant::Create(Role::Member) | Grant::ActOn(_) => StepUp::NotRequired,
        Grant::Change { from, to } if from == to => StepUp::NotRequired,
        Grant::Create(_) | Grant::Change { .. } => StepUp::Required,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use Role::{Admin, Auditor, Member, Owner};

    use GrantRefusal::{NotAManager, OwnerOnly};
    use StepUp::{NotRequired, Required};

    #[test]
    fn creating_users() {
        let cases: &[(Role, Role, Result<StepUp, GrantRefusal>)] = &[
            (Owner, Owner, Ok(Required)),
            (Owner, Admin, Ok(Required)),
            (Owner, Auditor, Ok(Required)),
            (Owner, Member, Ok(NotRequired)),
            (Admin, Owner, Err(OwnerOnly(Owner))),
            (Admin, Auditor, Err(OwnerOnly(Auditor))),
            (Admin, Admin, Ok(Required)),
            (Admin, Member, Ok(NotRequired)),
            (Member, Member, Err(NotAManager)),
            (Auditor, Member, Err(NotAManager)),
            (Auditor, Auditor, Err(NotAManager)),
        ];
        for (manager, role, expected) in cases {
            assert_eq!(
                decide(*manager, Grant::Create(*role)),
                *expected,
                "{manager:?} creates {role:?}"
            );
        }
    }

    #[test]
    fn changing_roles_every_pair() {
        for manager in Role::ALL {
            for from in Role::ALL {
                for to in Role::ALL {
                    let got = decide(manager, Grant::Change { from, to });
                    let expected = if !manager.manages_users() {
                        Err(NotAManager)
                    } else if manager == Admin && owner_only(from) {
                        Err(OwnerOnly(from))
                    } else if manager == Admin && owner_only(to) {
                        Err(OwnerOnly(to))
                    } else if from == to {
                        Ok(NotRequired)
                    } else {
                        Ok(Required)
                    };
                    assert_eq!(got, expected, "{manager:?} changes {from:?} to {to:?}");
                }
            }
        }
        // Demotions are grants too: taking away admin needs step-up.
        assert_eq!(
            decide(
                Owner,
                Grant::Change {
                    from: Admin,
                    to: Member
                }
            ),
            Ok(Required)
        );
        assert_eq!(
            decide(
                Admin,
                Grant::Change {
                    from: Admin,
                    to: Member
                }
            ),
            Ok(Required)
        );
    }

    #[test]
    fn acting_on_users() {
        assert_eq!(decide(Admin, Grant::ActOn(Member)), Ok(NotRequired));
        assert_eq!(decide(Admin, Grant::ActOn(Admin)), Ok(NotRequired));
        assert_eq!(decide(Admin, Grant::ActOn(Owner)), Err(OwnerOnly(Owner)));
        assert_eq!(decide(Admin, Grant::ActOn(Auditor)), Err(OwnerOnly(Auditor)));
        assert_eq!(decide(Owner, Grant::ActOn(Auditor)), Ok(NotRequired));
        assert_eq!(decide(Member, Grant::ActOn(Member)), Err(NotAManager));
        assert!(may_grant(Owner, Auditor) && !may_grant(Admin, Auditor) && may_grant(Admin, Admin));
        assert!(may_act_on(Admin, Member) && !may_act_on(Admin, Owner));
    }
}
