//! Hub requests with bounded waits. hf-hub's blocking client sets no read timeout, so a
//! server that accepts the connection and then says nothing would hang bigyo for ever. The
//! repository listing gets a request timeout; each download runs on a helper thread and is
//! abandoned when no bytes arrive for [`stall_timeout`] (`BIGYO_HUB_TIMEOUT` seconds,
//! default 30). Files already in the hub cache are used without any request.
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use hf_hub::api::sync::{Api, ApiBuilder};
use hf_hub::api::{Progress, RepoInfo};
use hf_hub::{Cache, Repo};

/// How long a hub request may go without a byte before bigyo gives up on it.
pub fn stall_timeout() -> Duration {
    std::env::var("BIGYO_HUB_TIMEOUT")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(Duration::from_secs(30), Duration::from_secs_f64)
}

/// The hub endpoint in use (`HF_ENDPOINT`, else huggingface.co), for messages.
pub fn endpoint() -> String {
    std::env::var("HF_ENDPOINT").unwrap_or_else(|_| "https://huggingface.co".to_owned())
}

/// One repository on the hub.
pub struct HubRepo {
    api: Api,
    repo: Repo,
    progress: bool,
}

enum Msg {
    Init(u64),
    Bytes(u64),
    Done(Result<PathBuf, String>),
}

struct ChannelProgress(mpsc::Sender<Msg>);

impl Progress for ChannelProgress {
    fn init(&mut self, size: usize, _filename: &str) {
        let _ = self.0.send(Msg::Init(size as u64));
    }
    fn update(&mut self, size: usize) {
        let _ = self.0.send(Msg::Bytes(size as u64));
    }
    fn finish(&mut self) {}
}

impl HubRepo {
    /// A client for `repo`; `progress` draws a byte progress bar per download on stderr.
    pub fn new(repo: Repo, progress: bool) -> Result<Self, String> {
        let api = ApiBuilder::from_env()
            .with_progress(false)
            .build()
            .map_err(|e| format!("hub client: {e}"))?;
        Ok(Self {
            api,
            repo,
            progress,
        })
    }

    /// The repository's file listing and commit.
    pub fn info(&self) -> Result<RepoInfo, String> {
        let request = self
            .api
            .repo(self.repo.clone())
            .info_request()
            .timeout(stall_timeout());
        let response = request.call().map_err(|e| describe(&e.to_string()))?;
        response
            .into_json::<RepoInfo>()
            .map_err(|e| format!("unreadable answer from {}: {e}", endpoint()))
    }

    /// The local path of `filename`, from the cache or downloaded. `on_bytes(done, total)`
    /// reports download progress.
    pub fn get(
        &self,
        filename: &str,
        on_bytes: &mut dyn FnMut(u64, u64),
    ) -> Result<PathBuf, String> {
        if let Some(path) = Cache::from_env().repo(self.repo.clone()).get(filename) {
            return Ok(path);
        }
        let (tx, rx) = mpsc::channel();
        let api = self.api.clone();
        let repo = self.repo.clone();
        let name = filename.to_owned();
        std::thread::Builder::new()
            .name("hub-download".into())
            .spawn(move || {
                let result = api
                    .repo(repo)
                    .download_with_progress(&name, ChannelProgress(tx.clone()))
                    .map_err(|e| describe(&e.to_string()));
                let _ = tx.send(Msg::Done(result));
            })
            .map_err(|e| format!("starting a download thread: {e}"))?;
        let stall = stall_timeout();
        let bar = self.progress.then(|| {
            let bar = indicatif::ProgressBar::new(0);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(filename.to_owned());
            bar
        });
        let (mut done, mut total) = (0u64, 0u64);
        let result = loop {
            match rx.recv_timeout(stall) {
                Ok(Msg::Init(size)) => {
                    total = size;
                    if let Some(b) = &bar {
                        b.set_length(size);
                    }
                }
                Ok(Msg::Bytes(n)) => {
                    done += n;
                    if let Some(b) = &bar {
                        b.set_position(done);
                    }
                    on_bytes(done, total);
                }
                Ok(Msg::Done(r)) => break r,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    break Err(format!(
                        "no data from {} for {} s while downloading {filename}; the hub may be \
                         unreachable (BIGYO_HUB_TIMEOUT sets the limit)",
                        endpoint(),
                        stall.as_secs_f64()
                    ))
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    break Err(format!("the download of {filename} stopped unexpectedly"))
                }
            }
        };
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        result
    }
}

/// A short reason for a failed request, naming the endpoint.
fn describe(error: &str) -> String {
    let lower = error.to_lowercase();
    if lower.contains("timed out") || lower.contains("timeout") {
        format!(
            "{} did not answer within {} s (BIGYO_HUB_TIMEOUT sets the limit)",
            endpoint(),
            stall_timeout().as_secs_f64()
        )
    } else if lower.contains("connection refused")
        || lower.contains("dns")
        || lower.contains("resolve")
    {
        format!("cannot reach {} ({error})", endpoint())
    } else {
        error.to_owned()
    }
}
