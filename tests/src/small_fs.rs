//! A small filesystem of its own (a tmpfs of a few MiB), to run out of
//! space for real and get it back. Needs root (CI and the test machines
//! run as root); a test that needs one says so when it cannot mount.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct SmallFs {
    dir: tempfile::TempDir,
    filler: PathBuf,
}

impl SmallFs {
    pub fn mount(mebibytes: u32) -> SmallFs {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mebibytes}m"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("mount");
        assert!(
            status.success(),
            "cannot mount a tmpfs at {} (this test needs root)",
            dir.path().display()
        );
        let filler = dir.path().join("filler");
        SmallFs { dir, filler }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file until the filesystem has no space left.
    pub fn fill(&self) {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.filler)
            .unwrap();
        let block = vec![0u8; 64 * 1024];
        loop {
            match file.write(&block) {
                Ok(0) => break,
                Ok(_) => {}
                Err(error) if error.raw_os_error() == Some(28) => break,
                Err(error) => panic!("filling {}: {error}", self.filler.display()),
            }
        }
        // The last partial blocks.
        while file.write(&[0u8; 512]).is_ok_and(|written| written > 0) {}
    }

    /// Frees what `fill` took.
    pub fn free(&self) {
        std::fs::remove_file(&self.filler).unwrap();
    }

    pub fn remount_read_only(&self) {
        self.remount("remount,ro");
    }

    pub fn remount_read_write(&self) {
        self.remount("remount,rw");
    }

    fn remount(&self, options: &str) {
        let status = Command::new("mount")
            .args(["-o", options])
            .arg(self.dir.path())
            .status()
            .unwrap();
        assert!(status.success(), "mount -o {options}");
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}
