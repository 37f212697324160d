//! Bulk import rows: CSV with a header line, or JSON lines, each row becoming a [`DeviceInput`].
//!
//! Parsing is per line, so an import is processed while it streams in and one bad row is
//! reported without stopping the rest. CSV fields follow RFC 4180 quoting, on one line.

use super::model::{AccountInput, DeviceInput};

/// The longest row accepted; a longer one is reported and skipped.
pub(crate) const MAX_ROW: usize = 64 * 1024;

/// The format of an import body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ImportFormat {
    /// A header line naming the columns, then one device per line. Columns: `mac`, `user_name`,
    /// `auth_name`, `display_name`, `vendor`, `model`, `site`, `password`, and `setting.<name>`
    /// for device settings.
    Csv,
    /// One JSON object per line, as for `POST /v1/devices`.
    JsonLines,
}

/// Turns lines into rows, remembering the CSV header.
pub(crate) struct RowParser {
    format: ImportFormat,
    /// The CSV header once read; an invalid header fails every later row too.
    header: Option<Result<Vec<Column>, String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Column {
    Field(&'static str),
    Setting(String),
    /// `account.N.FIELD`: a field of the account on line N.
    Account(u16, &'static str),
}

/// The fields an `account.N.` column may name.
const ACCOUNT_FIELDS: [&str; 8] =
    ["user_name", "auth_name", "display_name", "registrar", "outbound_proxy", "transport", "srtp", "password"];

const FIELDS: [&str; 8] = ["mac", "user_name", "auth_name", "display_name", "vendor", "model", "site", "password"];

/// What one line was.
pub(crate) enum Row {
    /// Blank lines and the CSV header.
    Skip,
    Device(Box<DeviceInput>),
}

impl RowParser {
    pub(crate) fn new(format: ImportFormat) -> Self {
        Self { format, header: None }
    }

    /// Parses one line (without its line break).
    pub(crate) fn parse(&mut self, line: &str) -> Result<Row, String> {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            return Ok(Row::Skip);
        }
        match self.format {
            ImportFormat::JsonLines => serde_json::from_str::<DeviceInput>(line)
                .map(|input| Row::Device(Box::new(input)))
                .map_err(|e| format!("invalid JSON: {e}")),
            ImportFormat::Csv => {
                let fields = split_csv(line)?;
                let header = match &self.header {
                    None => {
                        let header = parse_header(fields);
                        self.header = Some(header.clone());
                        return header.map(|_| Row::Skip);
                    }
                    Some(Err(e)) => return Err(format!("not imported: the header line is invalid ({e})")),
                    Some(Ok(header)) => header,
                };
                if fields.len() != header.len() {
                    return Err(format!("{} fields, but the header has {}", fields.len(), header.len()));
                }
                let mut input = DeviceInput::default();
                for (column, value) in header.iter().zip(fields) {
                    if value.is_empty() {
                        continue;
                    }
                    match column {
                        Column::Setting(name) => {
                            input.settings.insert(name.clone(), value);
                        }
                        Column::Account(line, field) => {
                            let accounts = input.accounts.get_or_insert_with(Vec::new);
                            let at = match accounts.iter().position(|account| account.line == Some(*line)) {
                                Some(at) => at,
                                None => {
                                    accounts.push(AccountInput { line: Some(*line), ..AccountInput::default() });
                                    accounts.len() - 1
                                }
                            };
                            let account = &mut accounts[at];
                            let slot = match *field {
                                "user_name" => &mut account.user_name,
                                "auth_name" => &mut account.auth_name,
                                "display_name" => &mut account.display_name,
                                "registrar" => &mut account.registrar,
                                "outbound_proxy" => &mut account.outbound_proxy,
                                "transport" => &mut account.transport,
                                "srtp" => &mut account.srtp,
                                _ => &mut account.password,
                            };
                            *slot = Some(value);
                        }
                        Column::Field(name) => {
                            let slot = match *name {
                                "mac" => &mut input.mac,
                                "user_name" => &mut input.user_name,
                                "auth_name" => &mut input.auth_name,
                                "display_name" => &mut input.display_name,
                                "vendor" => &mut input.vendor,
                                "model" => &mut input.model,
                                "site" => &mut input.site,
                                _ => &mut input.password,
                            };
                            *slot = Some(value);
                        }
                    }
                }
                Ok(Row::Device(Box::new(input)))
            }
        }
    }
}

fn parse_header(fields: Vec<String>) -> Result<Vec<Column>, String> {
    let mut columns = Vec::with_capacity(fields.len());
    for field in fields {
        let name = field.trim().to_ascii_lowercase();
        let column = if let Some(setting) = name.strip_prefix("setting.") {
            Column::Setting(setting.to_owned())
        } else if let Some(account) = name.strip_prefix("account.") {
            account_column(account).ok_or_else(|| {
                format!(
                    "header: {name:?} is not account.N.FIELD (N from 1; FIELD one of {})",
                    ACCOUNT_FIELDS.join(", ")
                )
            })?
        } else if let Some(known) = FIELDS.iter().find(|known| **known == name) {
            Column::Field(known)
        } else {
            return Err(format!(
                "header: unknown column {name:?} (known: {}, setting.<name> and account.<N>.<field>)",
                FIELDS.join(", ")
            ));
        };
        if columns.contains(&column) {
            return Err(format!("header: column {name:?} appears twice"));
        }
        columns.push(column);
    }
    let per_account = columns.iter().any(|column| matches!(column, Column::Account(..)));
    let one_account = ["user_name", "auth_name", "display_name", "password"]
        .iter()
        .any(|field| columns.contains(&Column::Field(field)));
    if per_account && one_account {
        return Err("header: give the accounts as account.N.* columns or as user_name, ..., not both".into());
    }
    let user_names = columns.contains(&Column::Field("user_name"))
        || columns.iter().any(|column| matches!(column, Column::Account(_, "user_name")));
    if !columns.contains(&Column::Field("mac")) || !user_names {
        return Err("header: the columns mac and user_name are required (account.N.user_name per account)".into());
    }
    Ok(columns)
}

/// `N.FIELD` of an `account.N.FIELD` column.
fn account_column(rest: &str) -> Option<Column> {
    let (line, field) = rest.split_once('.')?;
    let line: u16 = line.parse().ok().filter(|line| *line >= 1)?;
    let field = ACCOUNT_FIELDS.iter().find(|known| **known == field)?;
    Some(Column::Account(line, field))
}

/// Splits one CSV line: fields separated by commas, optionally in double quotes (a quote inside
/// a quoted field is doubled).
fn split_csv(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err("a quoted field is not closed".into()),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => fields.push(field),
                Some(c) => return Err(format!("unexpected {c:?} after a quoted field")),
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Ok(fields);
                    }
                    Some(',') => break,
                    Some('"') => return Err("a quote inside an unquoted field".into()),
                    Some(c) => field.push(c),
                }
            }
            fields.push(field);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)] // test code: failing loudly is the point

    use super::*;

    fn device(row: Result<Row, String>) -> DeviceInput {
        match row.unwrap() {
            Row::Device(input) => *input,
            Row::Skip => panic!("expected a device"),
        }
    }

    #[test]
    fn csv_rows_follow_their_header() {
        let mut parser = RowParser::new(ImportFormat::Csv);
        assert!(matches!(parser.parse("MAC,user_name,display_name,site,setting.language\r"), Ok(Row::Skip)));
        let row = device(parser.parse(r#"00:15:65:00:00:01,1001,"Desk ""A"", 2nd floor",leeds,Deutsch"#));
        assert_eq!(row.mac.as_deref(), Some("00:15:65:00:00:01"));
        assert_eq!(row.display_name.as_deref(), Some("Desk \"A\", 2nd floor"));
        assert_eq!(row.site.as_deref(), Some("leeds"));
        assert_eq!(row.settings.get("language").map(String::as_str), Some("Deutsch"));
        let sparse = device(parser.parse("00:15:65:00:00:02,1002,,,"));
        assert_eq!(sparse.display_name, None);
        assert!(sparse.settings.is_empty());
        assert!(matches!(parser.parse("   "), Ok(Row::Skip)));
        assert!(parser.parse("00:15:65:00:00:03,1003").err().unwrap().contains("2 fields, but the header has 5"));
        assert!(parser.parse(r#"x,"open"#).err().unwrap().contains("not closed"));
        assert!(parser.parse(r#"x,a"b,,,"#).err().unwrap().contains("quote inside"));
    }

    #[test]
    fn a_bad_csv_header_is_explained() {
        let header = |line: &str| RowParser::new(ImportFormat::Csv).parse(line).err().unwrap();
        assert!(header("mac,user_name,colour").contains("unknown column \"colour\""));
        assert!(header("mac,mac,user_name").contains("appears twice"));
        assert!(header("mac,site").contains("mac and user_name are required"));
        assert!(header("mac,account.0.user_name").contains("not account.N.FIELD"));
        assert!(header("mac,account.1.colour").contains("not account.N.FIELD"));
        assert!(header("mac,user_name,account.2.user_name").contains("not both"));
    }

    #[test]
    fn account_columns_fill_one_account_per_line() {
        let mut parser = RowParser::new(ImportFormat::Csv);
        let header = "mac,model,account.1.user_name,account.2.user_name,account.2.transport,account.2.password";
        assert!(matches!(parser.parse(header), Ok(Row::Skip)));
        let Ok(Row::Device(input)) = parser.parse("000b82aabb01,HT812,2001,2002,tls,Port-Two-Secret-2") else {
            panic!("a device row")
        };
        let device = input.validate(None).unwrap();
        assert_eq!(device.accounts.iter().map(|a| a.user_name.as_str()).collect::<Vec<_>>(), ["2001", "2002"]);
        assert_eq!(device.accounts[1].transport, Some(sipprov_credentials::Transport::Tls));
        assert_eq!(device.passwords.iter().map(|(line, _)| *line).collect::<Vec<_>>(), [2]);
        let mut parser = RowParser::new(ImportFormat::Csv);
        assert!(parser.parse("mac,colour").is_err());
        assert!(parser.parse("00:15:65:00:00:01,red").err().unwrap().contains("the header line is invalid"));
    }

    #[test]
    fn json_lines_are_device_documents() {
        let mut parser = RowParser::new(ImportFormat::JsonLines);
        let row = device(parser.parse(r#"{"mac": "001565000001", "user_name": "1001", "settings": {"a": "b"}}"#));
        assert_eq!(row.user_name.as_deref(), Some("1001"));
        assert!(parser.parse("{not json").err().unwrap().starts_with("invalid JSON"));
        assert!(parser.parse(r#"{"mac": "x", "shoe_size": 9}"#).err().unwrap().contains("shoe_size"));
    }
}
