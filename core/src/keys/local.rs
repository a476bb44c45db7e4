//! The `local` KMS: a 256-bit master key in a file readable by its owner
//! only (mode 0600), created on first start. Wrapping is
//! XChaCha20-Poly1305 with the context as associated data.

use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

use super::{Kms, KmsError, random_bytes};

const FORMAT: u8 = 1;
const NONCE_LEN: usize = 24;

pub struct LocalKms {
    cipher: XChaCha20Poly1305,
    key_ref: String,
}

impl LocalKms {
    /// Opens the master key at `path`, creating it (mode 0600) if
    /// `create` is set and the file does not exist. A file readable by
    /// others is refused.
    pub fn open(path: &Path, create: bool) -> Result<Self, KmsError> {
        let error = |reason: String| KmsError::KeyFile {
            path: path.display().to_string(),
            reason,
        };
        if !path.exists() {
            if !create {
                return Err(error("does not exist".into()));
            }
            write_new_key(path).map_err(|e| error(e.to_string()))?;
        }
        check_permissions(path).map_err(error)?;
        let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| error(e.to_string()))?);
        if bytes.len() != 32 {
            return Err(error(format!("must hold exactly 32 bytes, holds {}", bytes.len())));
        }
        let cipher = XChaCha20Poly1305::new_from_slice(&bytes).map_err(|_| error("bad key length".into()))?;
        let fingerprint = blake3::hash(&bytes);
        Ok(LocalKms {
            cipher,
            key_ref: format!("local:{}", hex::encode(&fingerprint.as_bytes()[..8])),
        })
    }

    pub fn default_path(data_dir: &Path) -> PathBuf {
        data_dir.join("master.key")
    }
}

fn write_new_key(path: &Path) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        // The directory of a master key is the owner's alone.
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder.create(parent)?;
    }
    // Written whole under a private name, then linked into place: a
    // process starting at the same time sees no key or a complete one, and
    // when two create one, the first link wins and both use it.
    let key = random_bytes::<32>();
    let draft = path.with_extension(format!("draft-{}", uuid::Uuid::new_v4().simple()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options.open(&draft).and_then(|mut file| {
        file.write_all(key.as_ref())?;
        file.sync_all()
    });
    let linked = written.and_then(|()| std::fs::hard_link(&draft, path));
    let _ = std::fs::remove_file(&draft);
    match linked {
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    }
}

fn check_permissions(path: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).map_err(|e| e.to_string())?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(format!("mode {:o} lets others read it; chmod 600", mode & 0o777));
        }
    }
    Ok(())
}

#[async_trait]
impl Kms for LocalKms {
    fn key_ref(&self) -> &str {
        &self.key_ref
    }

    async fn wrap(&self, plaintext: &[u8], context: &str) -> Result<Vec<u8>, KmsError> {
        let nonce = random_bytes::<NONCE_LEN>();
        let ciphertext = self
            .cipher
            .encrypt(
                XNonce::from_slice(nonce.as_ref()),
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| KmsError::Unavailable("encryption failed".into()))?;
        let mut wrapped = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        wrapped.push(FORMAT);
        wrapped.extend_from_slice(nonce.as_ref());
        wrapped.extend_from_slice(&ciphertext);
        Ok(wrapped)
    }

    async fn unwrap(&self, wrapped: &[u8], context: &str) -> Result<Zeroizing<Vec<u8>>, KmsError> {
        if wrapped.len() < 1 + NONCE_LEN || wrapped[0] != FORMAT {
            return Err(KmsError::Unwrap);
        }
        let (nonce, ciphertext) = wrapped[1..].split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| KmsError::Unwrap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn creates_a_private_key_file_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let kms = LocalKms::open(&path, true).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let wrapped = kms.wrap(b"secret", "ctx").await.unwrap();
        assert_eq!(kms.unwrap(&wrapped, "ctx").await.unwrap().as_slice(), b"secret");
        assert!(kms.unwrap(&wrapped, "other").await.is_err());
        let reopened = LocalKms::open(&path, false).unwrap();
        assert_eq!(reopened.key_ref(), kms.key_ref());
    }

    #[tokio::test]
    async fn processes_starting_together_share_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data").join("master.key");
        let opened: Vec<LocalKms> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| LocalKms::open(&path, true).unwrap()))
                .collect();
            handles.into_iter().map(|handle| handle.join().unwrap()).collect()
        });
        assert!(opened.iter().all(|kms| kms.key_ref() == opened[0].key_ref()));
        let wrapped = opened[3].wrap(b"secret", "ctx").await.unwrap();
        assert_eq!(opened[5].unwrap(&wrapped, "ctx").await.unwrap().as_slice(), b"secret");
        assert_eq!(
            std::fs::read_dir(dir.path().join("data")).unwrap().count(),
            1,
            "no draft left behind"
        );
    }

    #[test]
    fn refuses_a_key_file_others_can_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        std::fs::write(&path, [7u8; 32]).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(LocalKms::open(&path, false).is_err());
        }
    }
}
