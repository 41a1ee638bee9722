//! One entry point for every staff decision on a request: the page parses the form into a
//! [`Decision`], [`decide`] applies the domain's rules for it (four eyes, open balance, one
//! extension, settling only on an open deletion) and writes the change with its audit row.

use chrono::{DateTime, NaiveDate, Utc};

use super::{Kind, Refusal, Status};
use crate::{CoreError, Portal};

/// The fields of a correction the officer may apply.
pub const CORRECTABLE: [&str; 3] = ["name", "phone", "email"];

/// A staff decision on one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Take the request into review.
    Review,
    /// Approve it; for a correction, only the listed fields are applied.
    Approve {
        /// Fields of a correction to apply (ignored for other kinds).
        apply: Vec<String>,
    },
    /// Deny it, with the reason the customer is told.
    Deny {
        /// Why.
        reason: String,
    },
    /// Answer a question.
    Answer {
        /// The answer.
        text: String,
    },
    /// Extend the due date once, with the reason the customer is told.
    Extend {
        /// Why.
        reason: String,
        /// The new due date (salon-local).
        new_due: NaiveDate,
    },
    /// Assign it to the deciding member of staff.
    Assign,
    /// Record that the customer's stored-value balance was settled (open deletions only), with
    /// the amount the officer confirms and how.
    Settle(crate::membership::Settlement),
}

impl Decision {
    /// Parses the decision form: `decision` names it; `reason`, `new_due` (YYYY-MM-DD) and the
    /// ticked correction fields go with the decisions that use them.
    pub fn parse(
        decision: &str,
        reason: Option<String>,
        new_due: Option<&str>,
        apply: &[(&str, bool)],
    ) -> Result<Self, CoreError> {
        let reason = reason.unwrap_or_default();
        Ok(match decision {
            "review" => Decision::Review,
            "approve" => Decision::Approve {
                apply: apply
                    .iter()
                    .filter(|(f, on)| *on && CORRECTABLE.contains(f))
                    .map(|(f, _)| (*f).to_owned())
                    .collect(),
            },
            "deny" => Decision::Deny { reason },
            "answer" => Decision::Answer { text: reason },
            "extend" => Decision::Extend {
                reason,
                new_due: new_due
                    .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                    .ok_or(CoreError::Invalid("request.extension"))?,
            },
            "assign" => Decision::Assign,
            // A settlement needs its amount, method and tick: `from_form` reads them.
            "settle" => return Err(CoreError::Invalid("request.settle")),
            _ => return Err(CoreError::Invalid("request.decision")),
        })
    }

    /// The officer's decision form, as [`Decision::parse`].
    pub fn from_form(f: &portal_vocab::forms::Decision) -> Result<Self, CoreError> {
        let apply = [
            ("name", f.apply_name.is_some()),
            ("phone", f.apply_phone.is_some()),
            ("email", f.apply_email.is_some()),
        ];
        if f.decision == "settle" {
            return Ok(Decision::Settle(crate::membership::Settlement::from_form(
                f.settle_amount.as_deref(),
                f.settle_method.as_deref(),
                f.settle_confirm.is_some(),
            )?));
        }
        Decision::parse(&f.decision, f.reason.clone(), f.new_due.as_deref(), &apply)
    }

    /// The decision's name, as the form sends it.
    pub fn code(&self) -> &'static str {
        match self {
            Decision::Review => "review",
            Decision::Approve { .. } => "approve",
            Decision::Deny { .. } => "deny",
            Decision::Answer { .. } => "answer",
            Decision::Extend { .. } => "extend",
            Decision::Assign => "assign",
            Decision::Settle(_) => "settle",
        }
    }
}

/// The officer's decision form on request `id`, read ([`Decision::from_form`]) and applied
/// ([`decide`]); returns the decision's code.
pub async fn decide_form(
    portal: &Portal,
    staff: i64,
    id: i64,
    form: &portal_vocab::forms::Decision,
    now: DateTime<Utc>,
) -> Result<&'static str, CoreError> {
    let decision = Decision::from_form(form)?;
    let code = decision.code();
    decide(portal, staff, id, decision, now).await?;
    Ok(code)
}

/// Applies `decision` by member of staff `staff` to request `id`. Each step writes its audit
/// row in its own transaction with the change.
#[tracing::instrument(skip_all, fields(staff = staff, request = id))]
pub async fn decide(
    portal: &Portal,
    staff: i64,
    id: i64,
    decision: Decision,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    match decision {
        Decision::Review => super::start_review(portal, staff, id, now).await.map(drop),
        Decision::Approve { apply } => {
            if super::get(&portal.db, id).await?.kind == Kind::Correction {
                super::approve_correction(portal, staff, id, &apply, now)
                    .await
                    .map(drop)
            } else {
                super::approve(portal, staff, id, now).await.map(drop)
            }
        }
        Decision::Deny { reason } => super::deny(portal, staff, id, &reason, now).await.map(drop),
        Decision::Answer { text } => super::answer(portal, staff, id, &text, now).await.map(drop),
        Decision::Extend { reason, new_due } => {
            super::extend(portal, staff, id, &reason, new_due, now)
                .await
                .map(drop)
        }
        Decision::Assign => super::assign(&portal.db, id, staff, now).await,
        // Settling belongs to an open deletion request, not to any request of the customer.
        Decision::Settle(settlement) => {
            let r = super::get(&portal.db, id).await?;
            match (r.kind, r.status, r.customer) {
                (Kind::Deletion, Status::Submitted | Status::InReview, Some(customer)) => {
                    crate::membership::settle_balance(portal, customer, staff, settlement, now)
                        .await
                        .map(drop)
                }
                _ => Err(Refusal::WrongState.into()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decision_form_parses_into_its_decision_and_nothing_else() {
        assert_eq!(
            Decision::parse(
                "approve",
                None,
                None,
                &[("name", true), ("phone", false), ("id", true)]
            )
            .unwrap(),
            Decision::Approve {
                apply: vec!["name".into()]
            }
        );
        assert!(matches!(
            Decision::parse("extend", Some("busy".into()), Some("2026-13-01"), &[]),
            Err(CoreError::Invalid("request.extension"))
        ));
        assert!(matches!(
            Decision::parse("delete_everything", None, None, &[]),
            Err(CoreError::Invalid("request.decision"))
        ));
        for code in ["review", "deny", "answer", "assign"] {
            assert_eq!(Decision::parse(code, None, None, &[]).unwrap().code(), code);
        }
    }

    #[test]
    fn settling_needs_the_amount_shown_a_method_and_the_officers_tick() {
        use crate::membership::{SettleMethod, Settlement};
        let form = |amount: &str, method: &str, tick: bool| portal_vocab::forms::Decision {
            decision: "settle".into(),
            settle_amount: Some(amount.into()),
            settle_method: Some(method.into()),
            settle_confirm: tick.then(|| "on".into()),
            ..Default::default()
        };
        assert_eq!(
            Decision::from_form(&form("50.00", "cash", true)).unwrap(),
            Decision::Settle(Settlement {
                cents: 5000,
                method: SettleMethod::Cash
            })
        );
        for bad in [
            form("50.00", "cash", false),
            form("50.00", "cheque", true),
            form("fifty", "transfer", true),
            form("", "other", true),
        ] {
            assert!(matches!(
                Decision::from_form(&bad),
                Err(CoreError::Invalid("request.settle"))
            ));
        }
        assert!(Decision::parse("settle", None, None, &[]).is_err());
    }
}
