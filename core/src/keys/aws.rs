//! The `aws` KMS: a symmetric AWS KMS key wraps data keys and signing-key
//! seeds (decision 0026). New data keys come from `GenerateDataKey`; a
//! wrapped key opens with `Decrypt`. The wrapping context is bound as the
//! encryption context `{"warden": context}`, so a blob wrapped for one
//! subject cannot be unwrapped for another, and CloudTrail records which
//! subject each call was for.
//!
//! Region, endpoint and credentials come from the standard AWS chain
//! (`AWS_REGION`, `AWS_ENDPOINT_URL`, profiles, instance and container
//! roles); `kms_aws_region` and `kms_aws_endpoint_url` override the first
//! two. Every call has a timeout and is retried with the SDK's standard
//! backoff.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_kms::Client;
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{DataKeySpec, KeyManagerType, KeySpec, KeyState, KeyUsageType};
use zeroize::Zeroizing;

use super::{Kms, KmsError};

/// Where the AWS KMS key is and how long a call may take.
#[derive(Debug, Clone)]
pub struct AwsKmsSettings {
    /// Key id, key ARN, alias name (`alias/warden`) or alias ARN.
    pub key_id: String,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    /// The whole call, retries included.
    pub timeout: Duration,
    pub max_attempts: u32,
}

/// The context key of every call's encryption context.
const CONTEXT_KEY: &str = "warden";
/// A key ref names the key by ARN: `aws:arn:aws:kms:<region>:<account>:key/<id>`.
const REF_PREFIX: &str = "aws:";

pub struct AwsKms {
    client: Client,
    arn: String,
    key_ref: String,
}

impl AwsKms {
    /// Connects and checks the key before anything is sealed with it: it
    /// exists, is enabled, is a symmetric encrypt/decrypt key, and a value
    /// wrapped with it opens again. Any failure is a start-up error that
    /// says which.
    pub async fn connect(settings: &AwsKmsSettings) -> Result<Self, KmsError> {
        let per_attempt = settings.timeout / settings.max_attempts.max(1);
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .connect_timeout(per_attempt.min(Duration::from_secs(3)))
                    .operation_attempt_timeout(per_attempt)
                    .operation_timeout(settings.timeout)
                    .build(),
            )
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(settings.max_attempts.max(1)));
        if let Some(region) = &settings.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let Some(endpoint) = &settings.endpoint_url {
            loader = loader.endpoint_url(endpoint.clone());
        }
        let config = loader.load().await;
        if config.region().is_none() {
            return Err(KmsError::Unusable(
                "no AWS region: set kms_aws_region or AWS_REGION".into(),
            ));
        }
        let client = Client::new(&config);
        let arn = describe(&client, &settings.key_id).await?;
        let kms = AwsKms {
            client,
            key_ref: format!("{REF_PREFIX}{arn}"),
            arn,
        };
        let probe = kms.wrap(b"warden start-up probe", "warden:probe").await?;
        let opened = kms.unwrap(&probe, "warden:probe").await?;
        if opened.as_slice() != b"warden start-up probe" {
            return Err(KmsError::Unusable(format!(
                "{}: a probe value wrapped with the key did not open again",
                kms.arn
            )));
        }
        Ok(kms)
    }
}

/// The key's ARN, once it is known to be usable for wrapping.
async fn describe(client: &Client, key_id: &str) -> Result<String, KmsError> {
    let described = client.describe_key().key_id(key_id).send().await.map_err(|error| {
        let error = classify(error);
        match error {
            KmsError::Unwrap => KmsError::Unusable(format!("{key_id}: not found")),
            other => other,
        }
    })?;
    let metadata = described
        .key_metadata()
        .ok_or_else(|| KmsError::Unusable(format!("{key_id}: DescribeKey returned no key")))?;
    let arn = metadata.arn().unwrap_or(key_id).to_string();
    let unusable = |reason: String| Err(KmsError::Unusable(format!("{arn}: {reason}")));
    if metadata.key_state() != Some(&KeyState::Enabled) || !metadata.enabled() {
        let state = metadata.key_state().map(|state| state.as_str()).unwrap_or("unknown");
        return unusable(format!("the key is not enabled (state {state})"));
    }
    if metadata
        .key_usage()
        .is_some_and(|usage| usage != &KeyUsageType::EncryptDecrypt)
    {
        return unusable("the key is not an ENCRYPT_DECRYPT key".into());
    }
    if metadata
        .key_spec()
        .is_some_and(|spec| spec != &KeySpec::SymmetricDefault)
    {
        return unusable("the key is not a SYMMETRIC_DEFAULT key".into());
    }
    if metadata.key_manager() == Some(&KeyManagerType::Aws) {
        tracing::warn!(%arn, "the KMS key is AWS managed: its policy cannot be restricted to Warden");
    }
    Ok(arn)
}

/// A KMS error as Warden reports it. A ciphertext the key refuses is
/// `Unwrap` (damaged, another key, another context); anything else means
/// the service or the key cannot be used now. The SDK's messages name the
/// key and the failure, never the plaintext.
fn classify<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    error: SdkError<E, R>,
) -> KmsError {
    match &error {
        SdkError::ServiceError(service) => {
            let error = service.err();
            match error.code() {
                Some("InvalidCiphertextException" | "IncorrectKeyException") => KmsError::Unwrap,
                Some("NotFoundException") => KmsError::Unwrap,
                code => KmsError::Unavailable(format!(
                    "{}: {}",
                    code.unwrap_or("error"),
                    error.message().unwrap_or("no message")
                )),
            }
        }
        SdkError::TimeoutError(_) => KmsError::Unavailable("AWS KMS did not answer in time".into()),
        SdkError::DispatchFailure(failure) if failure.is_timeout() => {
            KmsError::Unavailable("AWS KMS did not answer in time".into())
        }
        // Unreachable, or no credentials from the AWS chain: the error
        // chain says which (it names the endpoint and the providers tried,
        // never a key or a plaintext).
        SdkError::DispatchFailure(_) => KmsError::Unavailable(format!(
            "AWS KMS cannot be reached: {}",
            aws_sdk_kms::error::DisplayErrorContext(&error)
        )),
        _ => KmsError::Unavailable(aws_sdk_kms::error::DisplayErrorContext(&error).to_string()),
    }
}

#[async_trait]
impl Kms for AwsKms {
    fn key_ref(&self) -> &str {
        &self.key_ref
    }

    /// Any AWS KMS key: a ciphertext blob names its key, so `Decrypt`
    /// opens one wrapped by a key Warden no longer wraps with, as long as
    /// the credentials may use it.
    fn can_unwrap(&self, key_ref: &str) -> bool {
        key_ref.starts_with(REF_PREFIX)
    }

    async fn wrap(&self, plaintext: &[u8], context: &str) -> Result<Vec<u8>, KmsError> {
        let output = self
            .client
            .encrypt()
            .key_id(&self.arn)
            .plaintext(Blob::new(plaintext))
            .encryption_context(CONTEXT_KEY, context)
            .send()
            .await
            .map_err(classify)?;
        output
            .ciphertext_blob()
            .map(|blob| blob.as_ref().to_vec())
            .ok_or_else(|| KmsError::Unavailable("Encrypt returned no ciphertext".into()))
    }

    async fn unwrap(&self, wrapped: &[u8], context: &str) -> Result<Zeroizing<Vec<u8>>, KmsError> {
        let output = self
            .client
            .decrypt()
            .ciphertext_blob(Blob::new(wrapped))
            .encryption_context(CONTEXT_KEY, context)
            .send()
            .await
            .map_err(classify)?;
        let plaintext = output
            .plaintext
            .ok_or_else(|| KmsError::Unavailable("Decrypt returned no plaintext".into()))?;
        Ok(Zeroizing::new(plaintext.into_inner()))
    }

    async fn generate_data_key(&self, context: &str) -> Result<(Zeroizing<Vec<u8>>, Vec<u8>), KmsError> {
        let output = self
            .client
            .generate_data_key()
            .key_id(&self.arn)
            .key_spec(DataKeySpec::Aes256)
            .encryption_context(CONTEXT_KEY, context)
            .send()
            .await
            .map_err(classify)?;
        let wrapped = output
            .ciphertext_blob
            .map(Blob::into_inner)
            .ok_or_else(|| KmsError::Unavailable("GenerateDataKey returned no ciphertext".into()))?;
        let plaintext = output
            .plaintext
            .map(|blob| Zeroizing::new(blob.into_inner()))
            .ok_or_else(|| KmsError::Unavailable("GenerateDataKey returned no plaintext".into()))?;
        if plaintext.len() != 32 {
            return Err(KmsError::Unavailable(
                "GenerateDataKey returned a key of the wrong size".into(),
            ));
        }
        Ok((plaintext, wrapped))
    }

    /// The key still exists and is enabled, and KMS answers.
    async fn probe(&self) -> Result<(), KmsError> {
        describe(&self.client, &self.arn).await.map(|_| ())
    }
}
