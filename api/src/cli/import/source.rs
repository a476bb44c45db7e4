//! Reading the legacy table: the column mapping and the rows as text.

use std::collections::{BTreeMap, HashMap};

use futures::StreamExt;
use sqlx::{Connection, Row};

use super::ImportArgs;

pub(super) const FIELDS: [&str; 7] = ["id", "email", "display_name", "org", "role", "password_hash", "active"];

/// The default column of each field; `active` has none (everyone active).
pub(super) fn default_column(field: &str) -> Option<&'static str> {
    match field {
        "id" => Some("id"),
        "email" => Some("email"),
        "display_name" => Some("name"),
        "org" => Some("organization"),
        "role" => Some("role"),
        "password_hash" => Some("password_hash"),
        _ => None,
    }
}

pub(super) fn identifier(text: &str) -> bool {
    !text.is_empty()
        && text.split('.').count() <= 2
        && text.split('.').all(|part| {
            !part.is_empty()
                && part.len() <= 63
                && part.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

pub(super) fn mapping(args: &ImportArgs) -> Result<BTreeMap<&'static str, String>, String> {
    let mut columns: BTreeMap<&'static str, String> = FIELDS
        .iter()
        .filter_map(|field| default_column(field).map(|column| (*field, column.to_string())))
        .collect();
    for given in &args.columns {
        let (field, column) = given
            .split_once('=')
            .ok_or_else(|| format!("--column {given:?}: expected FIELD=COLUMN"))?;
        let field = FIELDS.iter().find(|known| **known == field).ok_or_else(|| {
            format!(
                "--column {given:?}: unknown field {field:?} (fields: {})",
                FIELDS.join(", ")
            )
        })?;
        if !identifier(column) {
            return Err(format!("--column {given:?}: {column:?} is not a plain column name"));
        }
        columns.insert(field, column.to_string());
    }
    if !identifier(&args.table) {
        return Err(format!("--table {:?} is not a plain table name", args.table));
    }
    Ok(columns)
}

/// One row of the legacy table, as text.
pub(super) struct LegacyRow {
    pub(super) row: u64,
    pub(super) values: HashMap<&'static str, Option<String>>,
}

impl LegacyRow {
    pub(super) fn get(&self, field: &str) -> Option<&str> {
        self.values
            .get(field)
            .and_then(|value| value.as_deref())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }
}

pub(super) async fn read_rows(
    source: &str,
    table: &str,
    columns: &BTreeMap<&'static str, String>,
) -> Result<Vec<LegacyRow>, String> {
    let mut connection = sqlx::PgConnection::connect(source)
        .await
        .map_err(|error| format!("source database: {error}"))?;
    let fields: Vec<&'static str> = columns.keys().copied().collect();
    let select = fields
        .iter()
        .map(|field| format!("\"{}\"::text", columns[field]))
        .collect::<Vec<_>>()
        .join(", ");
    let quoted_table = table
        .split('.')
        .map(|part| format!("\"{part}\""))
        .collect::<Vec<_>>()
        .join(".");
    let order = if fields.contains(&"id") {
        format!(" ORDER BY \"{}\"", columns["id"])
    } else {
        String::new()
    };
    let query = format!("SELECT {select} FROM {quoted_table}{order}");
    let mut rows = Vec::new();
    let mut stream = sqlx::query(sqlx::AssertSqlSafe(query)).fetch(&mut connection);
    let mut number = 0;
    while let Some(row) = stream.next().await {
        let row = row.map_err(|error| format!("reading {table}: {error}"))?;
        number += 1;
        let mut values = HashMap::new();
        for (index, field) in fields.iter().enumerate() {
            let value: Option<String> = row
                .try_get(index)
                .map_err(|error| format!("reading {table}: {error}"))?;
            values.insert(*field, value);
        }
        rows.push(LegacyRow { row: number, values });
    }
    Ok(rows)
}
