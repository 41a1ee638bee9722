//! To the customer: the balance on their membership card was settled with them, how, and for
//! how much (so a settlement they did not receive is noticed at once).

use portal_vocab::{Cents, Lang};

use crate::{Portal, email::Email, mail::OutgoingMail, membership::SettleMethod};

/// The mail for a settlement of `cents` by `method`.
pub fn settled(
    portal: &Portal,
    to: Email,
    lang: Lang,
    cents: i64,
    method: SettleMethod,
) -> OutgoingMail {
    let salon = &portal.settings.salon_name;
    let amount = Cents(cents);
    let (subject, text) = match lang {
        Lang::En => {
            let how = match method {
                SettleMethod::Cash => "paid out to you in cash",
                SettleMethod::Transfer => "transferred to you",
                SettleMethod::Other => "settled with you",
            };
            (
                format!("{salon}: your card balance of {amount} is settled"),
                format!(
                    "The balance of {amount} left on your membership card was {how}, as recorded by the salon. Your card now holds {}.\n\nIf you did not receive it, please reply to this mail or tell us at the salon.\n",
                    Cents(0)
                ),
            )
        }
        Lang::Zh => {
            let how = match method {
                SettleMethod::Cash => "以现金退还给您",
                SettleMethod::Transfer => "转账退还给您",
                SettleMethod::Other => "与您结清",
            };
            (
                format!("{salon}：您的会员卡余额 {amount} 已结清"),
                format!(
                    "本店记录：您会员卡中剩余的 {amount} 已{how}，卡内余额现为 {}。\n\n如果您没有收到，请回复本邮件或到店告诉我们。\n",
                    Cents(0)
                ),
            )
        }
    };
    OutgoingMail {
        to,
        subject,
        text,
        html: None,
    }
}
