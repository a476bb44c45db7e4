//! The SQLite store's wrapped keys ([`KeyStore`]).

use async_trait::async_trait;

use super::{SqliteStore, discard_if_failed, insert_new_data_keys_on};
use crate::ledger::{KeyStore, LedgerError, StoredDataKey, StoredSigningKey, Wrap};

#[async_trait]
impl KeyStore for SqliteStore {
    async fn insert_signing_key(&self, key: &StoredSigningKey) -> Result<(), LedgerError> {
        sqlx::query("INSERT INTO signing_keys (key_id, public_key, wrapped_secret, kms_key_ref) VALUES (?, ?, ?, ?)")
            .bind(&key.key_id)
            .bind(&key.public_key)
            .bind(&key.wrapped_secret)
            .bind(&key.kms_key_ref)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn signing_key(&self, key_id: &str) -> Result<Option<StoredSigningKey>, LedgerError> {
        let row: Option<(Vec<u8>, Vec<u8>, String)> =
            sqlx::query_as("SELECT public_key, wrapped_secret, kms_key_ref FROM signing_keys WHERE key_id = ?")
                .bind(key_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(public_key, wrapped_secret, kms_key_ref)| StoredSigningKey {
            key_id: key_id.to_string(),
            public_key,
            wrapped_secret,
            kms_key_ref,
        }))
    }

    async fn insert_data_key(&self, key: &StoredDataKey) -> Result<StoredDataKey, LedgerError> {
        sqlx::query(
            "INSERT INTO data_keys (subject, key_id, wrapped, kms_key_ref) VALUES (?, ?, ?, ?) \
             ON CONFLICT (subject) DO NOTHING",
        )
        .bind(&key.subject)
        .bind(&key.key_id)
        .bind(&key.wrapped)
        .bind(&key.kms_key_ref)
        .execute(&self.pool)
        .await?;
        self.data_key(&key.subject).await?.ok_or(LedgerError::Corrupt {
            seq: 0,
            reason: format!("data key of {} vanished while it was created", key.subject),
        })
    }

    async fn insert_new_data_keys(&self, keys: &[StoredDataKey]) -> Result<(), LedgerError> {
        let mut connection = self.pool.acquire().await?;
        let result = insert_new_data_keys_on(&mut connection, keys).await;
        discard_if_failed(connection, &result);
        result
    }

    async fn data_key(&self, subject: &str) -> Result<Option<StoredDataKey>, LedgerError> {
        let row: Option<(String, Vec<u8>, String)> =
            sqlx::query_as("SELECT key_id, wrapped, kms_key_ref FROM data_keys WHERE subject = ?")
                .bind(subject)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(key_id, wrapped, kms_key_ref)| StoredDataKey {
            subject: subject.to_string(),
            key_id,
            wrapped,
            kms_key_ref,
        }))
    }

    async fn shred_data_key(&self, subject: &str) -> Result<bool, LedgerError> {
        let result = sqlx::query("DELETE FROM data_keys WHERE subject = ?")
            .bind(subject)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() > 0)
    }

    async fn signing_key_wraps(&self, key_id: &str) -> Result<Vec<Wrap>, LedgerError> {
        let rows: Vec<(String, Vec<u8>)> = sqlx::query_as(
            "SELECT kms_key_ref, wrapped_secret FROM ( \
               SELECT 0 AS added, kms_key_ref, wrapped_secret, created_at FROM signing_keys WHERE key_id = ? \
               UNION ALL \
               SELECT 1, kms_key_ref, wrapped_secret, created_at FROM signing_key_wraps WHERE key_id = ? \
             ) AS wraps ORDER BY added, created_at",
        )
        .bind(key_id)
        .bind(key_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(kms_key_ref, wrapped)| Wrap { kms_key_ref, wrapped })
            .collect())
    }

    async fn add_signing_key_wrap(&self, key_id: &str, wrap: &Wrap) -> Result<(), LedgerError> {
        sqlx::query(
            "INSERT INTO signing_key_wraps (key_id, kms_key_ref, wrapped_secret) VALUES (?, ?, ?) \
             ON CONFLICT (key_id, kms_key_ref) DO NOTHING",
        )
        .bind(key_id)
        .bind(&wrap.kms_key_ref)
        .bind(&wrap.wrapped)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn signing_keys_not_wrapped_by(&self, kms_key_ref: &str) -> Result<Vec<String>, LedgerError> {
        Ok(sqlx::query_scalar(
            "SELECT key_id FROM signing_keys AS s WHERE s.kms_key_ref <> ? AND NOT EXISTS ( \
               SELECT 1 FROM signing_key_wraps AS w WHERE w.key_id = s.key_id AND w.kms_key_ref = ?) \
             ORDER BY created_at, key_id",
        )
        .bind(kms_key_ref)
        .bind(kms_key_ref)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn data_keys_not_wrapped_by(
        &self,
        kms_key_ref: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<StoredDataKey>, LedgerError> {
        let rows: Vec<(String, String, Vec<u8>, String)> = sqlx::query_as(
            "SELECT subject, key_id, wrapped, kms_key_ref FROM data_keys \
             WHERE kms_key_ref <> ? AND subject > ? ORDER BY subject LIMIT ?",
        )
        .bind(kms_key_ref)
        .bind(after)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(subject, key_id, wrapped, kms_key_ref)| StoredDataKey {
                subject,
                key_id,
                wrapped,
                kms_key_ref,
            })
            .collect())
    }

    async fn count_data_keys_not_wrapped_by(&self, kms_key_ref: &str) -> Result<u64, LedgerError> {
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM data_keys WHERE kms_key_ref <> ?")
            .bind(kms_key_ref)
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn rewrap_data_key(&self, key: &StoredDataKey, wrap: &Wrap) -> Result<bool, LedgerError> {
        let result = sqlx::query(
            "UPDATE data_keys SET wrapped = ?, kms_key_ref = ? \
             WHERE subject = ? AND key_id = ? AND kms_key_ref = ?",
        )
        .bind(&wrap.wrapped)
        .bind(&wrap.kms_key_ref)
        .bind(&key.subject)
        .bind(&key.key_id)
        .bind(&key.kms_key_ref)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }
}
