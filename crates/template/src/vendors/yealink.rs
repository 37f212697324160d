//! Yealink: `key = value` files whose first line is exactly `#!version:1.0.0.1`.

use crate::format::key_value::KeyValueWriter;
use crate::{AccountSettings, RenderError};

/// The header Yealink phones require on the first line of every config file.
pub const HEADER: &str = "#!version:1.0.0.1";

/// Renders the device file `{mac}.cfg` for one account.
///
/// With `password: None` the `account.1.password` key is omitted entirely (not emptied): Yealink
/// keeps the stored value of a key the file does not mention, so a phone that was provisioned
/// keeps working after the server has forgotten its password.
pub fn device_config(account: &AccountSettings, password: Option<&str>) -> Result<String, RenderError> {
    let mut file = KeyValueWriter::new(HEADER);
    file.set("account.1.enable", "1")?
        .set("account.1.label", &account.display_name)?
        .set("account.1.display_name", &account.display_name)?
        .set("account.1.user_name", &account.user_name)?
        .set("account.1.auth_name", &account.auth_name)?;
    if let Some(password) = password {
        file.set("account.1.password", password)?;
    }
    file.set("account.1.sip_server.1.address", &account.registrar)?;
    Ok(file.finish())
}
