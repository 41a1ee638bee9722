//! Every mail the portal sends, one file each, with its copy in both languages (`Lang`), and
//! the one envelope those with an HTML part are sent in.

pub mod email_changed;
pub mod email_confirmation;
pub mod envelope;
pub mod erasure_receipt;
pub mod portal_invitation;
pub mod request_reminder;
pub mod request_update;
pub mod retention_notice;
pub mod second_factor_changed;
pub mod settlement;
pub mod sign_in;
pub mod staff_invitation;
