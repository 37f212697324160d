//! One module per vendor profile: the files its phones ask for, its formats, its reader and
//! its hardening policy. The shipped templates live in `templates/<vendor>/`.

pub mod cisco;
pub mod fanvil;
pub mod gigaset;
pub mod grandstream;
pub mod linphone;
pub mod polycom;
pub mod snom;
pub mod yealink;
