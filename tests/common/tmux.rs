//! The release binary in a tmux server of the test's own, for the end-to-end tests.
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Everything one end-to-end test waits for together stays under a minute and a half.
pub const BUDGET: Duration = Duration::from_secs(90);

/// `BIGYO_BIN`, else `target/release/bigyo` when it exists.
pub fn release_binary() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os("BIGYO_BIN") {
        return Some(PathBuf::from(bin));
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    let bin = target.join("release/bigyo");
    bin.exists().then_some(bin)
}

/// A tmux server of our own (its own socket), killed on drop.
pub struct Tmux {
    pub socket: String,
}

impl Tmux {
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-u")
            .args(["-L", &self.socket])
            .args(args)
            .env("LANG", "C.UTF-8")
            .output()
            .expect("tmux runs")
    }

    /// Starts `command` (through `sh -c`) in a session named `e2e`, `size` columns x rows;
    /// returns when it started.
    pub fn start(&self, command: &str, size: (u16, u16)) -> Instant {
        let started = Instant::now();
        let (x, y) = (size.0.to_string(), size.1.to_string());
        let out = self.run(&[
            "new-session",
            "-d",
            "-s",
            "e2e",
            "-x",
            &x,
            "-y",
            &y,
            "sh",
            "-c",
            command,
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        started
    }

    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "e2e"]).stdout).into_owned()
    }

    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "e2e"];
        args.extend(keys);
        assert!(self.run(&args).status.success());
    }

    pub fn type_text(&self, text: &str) {
        assert!(self
            .run(&["send-keys", "-t", "e2e", "-l", text])
            .status
            .success());
    }

    /// Polls the screen until `ok` holds; fails with the screen when [`BUDGET`] runs out.
    pub fn wait(&self, started: Instant, what: &str, ok: impl Fn(&str) -> bool) -> String {
        self.wait_up_to(BUDGET, started, what, ok)
    }

    /// As [`Tmux::wait`] with a budget of its own (a remote endpoint embedding the corpus).
    pub fn wait_up_to(
        &self,
        budget: Duration,
        started: Instant,
        what: &str,
        ok: impl Fn(&str) -> bool,
    ) -> String {
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            assert!(
                started.elapsed() < budget,
                "timed out waiting for {what}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}
