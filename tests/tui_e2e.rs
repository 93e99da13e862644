//! The explorer end to end: the release binary in tmux on the bundled sample corpus with the
//! MiniLM snapshot, typing a Korean dataset question, opening and closing a passage, the
//! similarity playground, switching the pooling (the passages are embedded again), quitting;
//! and the image search screen (`--images DIR`) on the tiny random CLIP model of the CLIP
//! golden set.
//!
//! Needs `target/release/bigyo` (`make build`; `BIGYO_BIN` points elsewhere), tmux, and the
//! golden manifest (`make golden`); skips with a message when one is missing.
use std::process::Command;
use std::time::{Duration, Instant};

mod common;
use common::tmux::{release_binary, Tmux};

/// The dataset question asked (guid bigyo-sample-0001 in assets/sample/klue_mrc_sample.jsonl).
const QUESTION: &str = "올해 비가 가장 많이 오는 시기는 언제인가?";

/// The explorer tests run one at a time: each loads models on a 2-core machine.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Starts bigyo in tmux on the sample with MiniLM and `reranker`, at 160x45. After bigyo
/// exits the shell prints its status and lingers so the screen can be read.
fn start(tmux: &Tmux, cache: &std::path::Path, reranker: &str) -> Instant {
    start_then(tmux, cache, reranker, "")
}

/// As [`start`]; `after` runs in the shell once bigyo has exited and printed its status.
fn start_then(tmux: &Tmux, cache: &std::path::Path, reranker: &str, after: &str) -> Instant {
    start_with(tmux, cache, reranker, "", after, (160, 45))
}

/// As [`start_then`], with `extra` options for bigyo and a terminal of `size` columns x rows.
fn start_with(
    tmux: &Tmux,
    cache: &std::path::Path,
    reranker: &str,
    extra: &str,
    after: &str,
    size: (u16, u16),
) -> Instant {
    let Some(bin) = release_binary() else {
        panic!("no release binary: run `make build` (make test does), or set BIGYO_BIN");
    };
    if Command::new("tmux").arg("-V").output().is_err() {
        panic!("tmux is not installed: `make setup-test` installs it (apt-get install tmux)");
    }
    let command = format!(
        "env BIGYO_CACHE_DIR='{cache}' BIGYO_CONFIG_DIR='{cache}/config' BIGYO_DATA_DIR='{cache}/data' \
         HF_HUB_OFFLINE=1 LANG=C.UTF-8 '{bin}' --data sample \
         --model '{model}' --reranker '{reranker}' --device cpu --offline {extra}; \
         echo \"bigyo-exited-$?\"; {after} sleep 30",
        cache = cache.display(),
        bin = bin.display(),
        model = common::minilm_dir().display(),
    );
    tmux.start(&command, size)
}

/// Text that must never reach the user's terminal.
fn assert_no_crash_text(screen: &str) {
    for bad in [
        "panicked",
        "Segmentation fault",
        "Aborted",
        "core dumped",
        "RUST_BACKTRACE",
    ] {
        assert!(!screen.contains(bad), "{bad} on the screen:\n{screen}");
    }
}

/// With a cross-encoder slow enough to watch (random weights, ~1-2 s for 30 pairs): the
/// fast panes fill first while the Rerank pane counts its progress; a recalled query runs;
/// an evaluation never holds up a query; Ctrl-C during it exits 0 with nothing printed.
#[test]
fn explorer_fills_fast_panes_first_recalls_history_and_quits_during_an_evaluation() {
    let _serial = one_at_a_time();
    let cache = tempfile::tempdir().expect("temp dir");
    let tmux = Tmux {
        socket: format!("bigyo-e2e-slow-{}", std::process::id()),
    };
    let reranker = common::case_dir("slow-bert-cls");
    let started = start(&tmux, cache.path(), &reranker.display().to_string());
    tmux.wait(started, "Ready", |s| {
        s.contains("Ready") && !s.contains("Loading")
    });

    tmux.type_text(QUESTION);
    tmux.keys(&["Enter"]);
    let screen = tmux.wait(started, "the fast panes while the reranker works", |s| {
        // The status bar counts the rerank while the other panes already list the gold.
        s.contains('✓') && s.contains("· reranking ")
    });
    assert!(screen.contains("BM25 "), "{screen}");
    tmux.wait(started, "the Rerank pane filled", |s| {
        s.contains("· logit") && !s.contains("· reranking ")
    });

    // Another query, then Up: the first Up recalls the earlier question (not the query on
    // screen), and the recalled question runs by itself (live search).
    tmux.keys(&["C-u"]);
    tmux.type_text("태풍");
    tmux.keys(&["Enter"]);
    tmux.wait(started, "the second query's lists", |s| {
        !s.contains('✓') && s.contains("· logit")
    });
    tmux.keys(&["Up"]);
    tmux.wait(started, "the recalled question's lists", |s| {
        s.contains(QUESTION) && s.contains('✓') && !s.contains("searching…")
    });

    // An evaluation runs in the background; a query typed meanwhile is answered at once.
    tmux.keys(&["F3"]);
    tmux.wait(started, "the evaluation running", |s| {
        s.contains("evaluating [")
    });
    tmux.keys(&["Escape"]);
    tmux.wait(started, "the overlay closed", |s| {
        !s.contains("evaluating [")
    });
    tmux.keys(&["C-u"]);
    tmux.type_text("위성 발사");
    tmux.keys(&["Enter"]);
    let screen = tmux.wait(started, "a query answered during the evaluation", |s| {
        s.contains("위성") && s.contains("BM25 ") && s.contains("K-") && !s.contains("searching…")
    });
    assert!(
        screen.contains("evaluating "),
        "the status bar says what runs:\n{screen}"
    );

    tmux.keys(&["C-c"]);
    let screen = tmux.wait(started, "bigyo to exit", |s| s.contains("bigyo-exited-"));
    assert!(screen.contains("bigyo-exited-0"), "{screen}");
    assert_no_crash_text(&screen);
}

/// Two hits graded from the keyboard are on disk: after quitting and starting again, the same
/// question shows both grades.
#[test]
fn grades_given_in_the_explorer_survive_a_restart() {
    let _serial = one_at_a_time();
    let cache = tempfile::tempdir().expect("temp dir");
    for round in 0..2 {
        let tmux = Tmux {
            socket: format!("bigyo-e2e-grade-{}-{round}", std::process::id()),
        };
        let started = start(&tmux, cache.path(), "none");
        tmux.wait(started, "Ready", |s| {
            s.contains("Ready") && !s.contains("Loading")
        });
        tmux.type_text(QUESTION);
        tmux.keys(&["Enter"]);
        tmux.wait(started, "the gold marker", |s| s.contains('✓'));
        if round == 0 {
            // In the BM25 pane: m 3 on the first hit, m 0 on the second.
            tmux.keys(&["Tab"]);
            tmux.keys(&["Tab"]);
            for k in ["m", "3", "j", "m", "0"] {
                tmux.keys(&[k]);
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        let screen = tmux.wait(started, "both grades on screen", |s| {
            s.contains("[3]") && s.contains("[0]")
        });
        assert!(screen.contains("✓ 1 "), "{screen}");
        tmux.keys(&["C-c"]);
        let screen = tmux.wait(started, "bigyo to exit", |s| s.contains("bigyo-exited-"));
        assert!(screen.contains("bigyo-exited-0"), "{screen}");
        assert_no_crash_text(&screen);
    }
}

/// Quitting at any moment (loading, embedding, querying, reranking, evaluating, re-pooling)
/// exits 0 and prints nothing: each run waits a different time, then sends Ctrl-C or q.
#[test]
fn quitting_at_any_moment_exits_cleanly() {
    let _serial = one_at_a_time();
    let reranker = common::case_dir("slow-bert-cls").display().to_string();
    // (seconds before acting, what to do first, the quit key)
    let moments: [(f64, &[&str], &str); 9] = [
        (0.0, &[], "C-c"),
        (0.3, &[], "C-c"),
        (1.5, &[], "C-c"),
        (3.0, &["Enter"], "C-c"),
        (5.0, &["Enter", "Tab"], "q"),
        (7.0, &["Enter"], "C-c"),
        (7.0, &["F3"], "C-c"),
        (7.5, &["Enter", "Tab", "Tab"], "q"),
        (8.0, &["C-p"], "C-c"),
    ];
    for (i, (wait, keys, quit)) in moments.iter().enumerate() {
        let cache = tempfile::tempdir().expect("temp dir");
        let tmux = Tmux {
            socket: format!("bigyo-e2e-quit-{}-{i}", std::process::id()),
        };
        let started = start(&tmux, cache.path(), &reranker);
        // From bigyo's first screen on (a Ctrl-C before it would reach the process while it
        // still loads libtorch, before any of its code runs).
        tmux.wait(started, "the first screen", |s| s.contains("Query"));
        tmux.type_text(QUESTION);
        std::thread::sleep(Duration::from_secs_f64(*wait));
        for k in *keys {
            tmux.keys(&[k]);
            std::thread::sleep(Duration::from_millis(150));
        }
        std::thread::sleep(Duration::from_millis(300));
        tmux.keys(&[quit]);
        let screen = tmux.wait(started, "bigyo to exit", |s| s.contains("bigyo-exited-"));
        assert!(
            screen.contains("bigyo-exited-0"),
            "run {i} ({wait} s, {keys:?}, {quit}):\n{screen}"
        );
        assert_no_crash_text(&screen);
    }
}

/// `--panes` in the explorer: five titled panes with scores side by side at 200x50, a grid
/// at 100x30 and tabs at 60x20, and a clean exit.
#[test]
fn five_panes_from_a_spec_at_three_sizes() {
    let _serial = one_at_a_time();
    let cache = tempfile::tempdir().expect("temp dir");
    let tmux = Tmux {
        socket: format!("bigyo-e2e-panes-{}", std::process::id()),
    };
    let reranker = common::case_dir("tiny-bert-cls");
    let started = start_with(
        &tmux,
        cache.path(),
        reranker.to_str().unwrap(),
        "--panes bm25,bm25:whitespace,dense,hybrid,rerank",
        "",
        (200, 50),
    );
    tmux.wait(started, "Ready", |s| s.contains("Ready"));
    tmux.type_text(QUESTION);
    tmux.keys(&["Enter"]);
    let titles = [
        "BM25 ",
        "BM25 · whitespace",
        "Semantic",
        "Hybrid (RRF)",
        "Rerank",
    ];
    let screen = tmux.wait(started, "five panes with their scores", |s| {
        titles.iter().all(|t| s.contains(t)) && s.contains("logit") && s.matches('✓').count() >= 2
    });
    assert_no_crash_text(&screen);
    // Each pane's first row is rank 1 with a score.
    assert!(screen.matches(" 1 ").count() >= 5, "{screen}");

    tmux.run(&["resize-window", "-t", "e2e", "-x", "100", "-y", "30"]);
    let screen = tmux.wait(started, "the grid at 100x30", |s| {
        titles.iter().all(|t| s.contains(t)) && s.lines().count() <= 30
    });
    assert_no_crash_text(&screen);

    tmux.run(&["resize-window", "-t", "e2e", "-x", "60", "-y", "20"]);
    let screen = tmux.wait(started, "tabs at 60x20", |s| {
        s.contains(" BM25 │ BM25 · whitespace │")
    });
    assert_no_crash_text(&screen);

    tmux.keys(&["C-c"]);
    let screen = tmux.wait(started, "bigyo to exit", |s| s.contains("bigyo-exited-"));
    assert!(screen.contains("bigyo-exited-0"), "{screen}");
}

/// Settings are the focused pane's: with two BM25 panes, switching the first one's analyzer
/// changes that pane alone (its title and list follow; the other BM25 pane, the dense pane
/// and the hybrid keep theirs), so does the dense pane's pooling, and the evaluation lists
/// every pane on screen. At 80x24 and 160x45.
#[test]
fn a_setting_changes_the_focused_pane_only() {
    let _serial = one_at_a_time();
    for size in [(160, 45), (80, 24)] {
        let cache = tempfile::tempdir().expect("temp dir");
        let tmux = Tmux {
            socket: format!("bigyo-e2e-settings-{}-{}", std::process::id(), size.0),
        };
        let started = start_with(
            &tmux,
            cache.path(),
            "none",
            "--panes bm25,bm25:whitespace,dense,hybrid",
            "",
            size,
        );
        tmux.wait(started, "Ready", |s| s.contains("Ready"));
        tmux.type_text(QUESTION);
        tmux.keys(&["Enter"]);
        tmux.wait(started, "the panes' lists", |s| s.matches('✓').count() >= 2);
        // The first pane, its settings: the analyzer row, bigram → the next analyzer.
        tmux.keys(&["Down", "F2"]);
        tmux.wait(started, "the first pane's settings", |s| {
            s.contains("Settings · BM25") && s.contains("analyzer")
        });
        // Step the analyzer (the session's default depends on whether mecab-ko-dic is
        // installed) until the row reads whitespace.
        tmux.keys(&["Down"]);
        let mut screen = String::new();
        for _ in 0..6 {
            tmux.keys(&["Right"]);
            // One step at a time: the row must show this step before the next.
            std::thread::sleep(Duration::from_millis(500));
            screen = tmux.wait(started, "the analyzer row", |s| s.contains("analyzer"));
            if screen.contains("‹ whitespace ›") {
                break;
            }
        }
        assert!(screen.contains("‹ whitespace ›"), "{screen}");
        assert!(
            !screen.contains("--"),
            "no flag names in the settings:\n{screen}"
        );
        tmux.keys(&["Escape"]);
        // The first pane now reads as the second one does. The setting applies while the
        // overlay is open, so wait for the overlay to close too (it hides the other titles).
        let screen = tmux.wait(started, "two whitespace BM25 panes", |s| {
            s.matches("┌ BM25 · whitespace").count() == 2
                && !s.contains("being built")
                && !s.contains("Settings ·")
        });
        assert_no_crash_text(&screen);
        assert!(
            screen.contains("Semantic") && screen.contains("Hybrid (RRF)"),
            "{screen}"
        );
        // The dense pane (3): Ctrl-P, the next pooling; only its title changes.
        tmux.keys(&["3", "C-p"]);
        let screen = tmux.wait(started, "the dense pane with cls pooling", |s| {
            s.contains("Semantic · cls") && s.contains("Ready") && !s.contains("being built")
        });
        assert_eq!(screen.matches("┌ BM25 · whitespace").count(), 2, "{screen}");
        // The evaluation lists every pane on screen.
        tmux.keys(&["F3"]);
        let screen = tmux.wait(started, "the evaluation", |s| {
            s.contains("MRR") && s.matches("BM25 · white").count() >= 2
        });
        assert!(
            screen.contains("Semantic · cls") || screen.contains("dense"),
            "{screen}"
        );
        assert!(
            screen.contains("Hybrid") || screen.contains("hybrid"),
            "{screen}"
        );
        tmux.keys(&["Escape", "C-c"]);
        let screen = tmux.wait(started, "bigyo to exit", |s| s.contains("bigyo-exited-"));
        assert!(screen.contains("bigyo-exited-0"), "{screen}");
    }
}

#[test]
fn explorer_searches_opens_a_passage_and_quits_cleanly() {
    let _serial = one_at_a_time();
    let cache = tempfile::tempdir().expect("temp dir");
    let tmux = Tmux {
        socket: format!("bigyo-e2e-{}", std::process::id()),
    };
    // After bigyo exits the shell also prints whether the terminal is back in canonical mode
    // (raw mode clears `icanon`).
    let started = start_then(
        &tmux,
        cache.path(),
        "none",
        "stty -a | tr ' ;' '\\n\\n' | grep -x -- '-\\{0,1\\}icanon';",
    );
    tmux.wait(started, "Ready", |s| s.contains("Ready"));
    tmux.type_text(QUESTION);
    tmux.keys(&["Enter"]);
    let screen = tmux.wait(started, "the gold marker", |s| {
        s.contains('✓') && s.contains("Semantic")
    });
    for title in ["Semantic", "BM25", "Hybrid (RRF)", "Rerank"] {
        assert!(screen.contains(title), "no {title} pane:\n{screen}");
    }
    assert!(screen.contains(QUESTION), "{screen}");
    assert!(
        screen.contains("--reranker none"),
        "the rerank pane says why it is empty:\n{screen}"
    );

    // Down leaves the query line for the first pane; Enter opens its first hit.
    tmux.keys(&["Down", "Enter"]);
    tmux.wait(started, "the detail view", |s| {
        s.contains("Questions about this passage")
    });
    tmux.keys(&["Escape"]);
    tmux.wait(started, "the detail view to close", |s| {
        !s.contains("Questions about this passage") && s.contains("BM25")
    });

    // The playground opens on the chapter's example and computes it at once; F5 again.
    let computed = |s: &str| {
        ["one-hot", "bag of words", "TF-IDF", "dense ("]
            .iter()
            .all(|t| s.contains(t))
            && !s.contains("waiting for the encoder")
            && !s.contains("embedding the sentences")
            && !s.contains("computing…")
            // The diagonal of all four matrices: three sentences, four blocks.
            && s.matches("1.00").count() >= 12
    };
    tmux.keys(&["F4"]);
    let screen = tmux.wait(started, "the playground's four blocks", computed);
    assert!(screen.contains("잠이 안 옵니다"), "{screen}");
    assert!(screen.contains("IDF over"), "{screen}");
    tmux.keys(&["F5"]);
    tmux.wait(started, "the playground computed again", computed);
    tmux.keys(&["Escape"]);
    tmux.wait(started, "the playground to close", |s| {
        !s.contains("Similarity playground")
    });

    // Pooling: the settings of the focused pane (Semantic), its pooling row, one step right
    // (the model's own mean → cls). The passages are embedded with cls; the pane's title
    // says so and its list comes back once they are.
    tmux.keys(&["F2"]);
    tmux.wait(started, "the settings", |s| {
        s.contains("Settings · Semantic")
    });
    tmux.keys(&["Down", "Right", "Escape"]);
    let screen = tmux.wait(started, "the Semantic pane with cls pooling", |s| {
        s.contains("Semantic · cls")
            && s.contains("Ready")
            && !s.contains("Settings")
            && !s.contains("being built")
    });
    assert!(screen.contains('✓'), "the query ran again:\n{screen}");

    // Resizing down to one cell and back: no crash, the four panes come back.
    for (x, y) in [("1", "1"), ("30", "8"), ("160", "45")] {
        tmux.run(&["resize-window", "-t", "e2e", "-x", x, "-y", y]);
        std::thread::sleep(Duration::from_millis(300));
    }
    let screen = tmux.wait(started, "the panes after resizing back", |s| {
        s.contains("Hybrid (RRF)") && s.contains("Ready")
    });
    assert!(!screen.contains("bigyo-exited"), "{screen}");

    tmux.keys(&["q"]);
    let screen = tmux.wait(started, "bigyo to exit", |s| s.contains("bigyo-exited-"));
    assert!(screen.contains("bigyo-exited-0"), "{screen}");
    let screen = tmux.wait(started, "the terminal mode", |s| {
        s.lines().any(|l| l.trim().ends_with("icanon"))
    });
    assert!(
        screen.lines().any(|l| l.trim() == "icanon"),
        "the terminal is still in raw mode:\n{screen}"
    );
    assert!(
        !screen.contains("Hybrid (RRF)"),
        "the alternate screen was not left:\n{screen}"
    );
}

/// An unusable data file stops the explorer as it stops the command line: before the screen
/// opens, exit 1, the file named with the cause (`bigyo search` prints the same line).
#[test]
fn an_unusable_data_file_stops_the_explorer_with_the_cli_message() {
    let _serial = one_at_a_time();
    let Some(bin) = release_binary() else {
        panic!("no release binary: run `make build` (make test does), or set BIGYO_BIN");
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("notparquet.parquet");
    std::fs::write(&data, "context,question\n서울,비\n").expect("writing the data file");
    let cli = Command::new(&bin)
        .args([
            "--data",
            data.to_str().unwrap(),
            "search",
            "서울",
            "--methods",
            "bm25",
        ])
        .env("BIGYO_CACHE_DIR", dir.path())
        .env("HF_HUB_OFFLINE", "1")
        .output()
        .expect("running bigyo search");
    let cli_line = String::from_utf8_lossy(&cli.stderr)
        .lines()
        .find(|l| l.contains("notparquet.parquet") && l.contains("not a readable parquet file"))
        .expect("the CLI names the file and the cause")
        .to_owned();
    let tmux = Tmux {
        socket: format!("bigyo-e2e-baddata-{}", std::process::id()),
    };
    let command = format!(
        "env BIGYO_CACHE_DIR='{cache}' HF_HUB_OFFLINE=1 LANG=C.UTF-8 '{bin}' --data '{data}' \
         --offline; echo \"bigyo-exited-$?\"; sleep 30",
        cache = dir.path().display(),
        bin = bin.display(),
        data = data.display(),
    );
    let started = tmux.start(&command, (200, 45));
    let screen = tmux.wait(started, "bigyo to exit", |s| s.contains("bigyo-exited-"));
    assert!(screen.contains("bigyo-exited-1"), "{screen}");
    assert!(!screen.contains("Ready"), "{screen}");
    let joined: String = screen.lines().map(str::trim_end).collect();
    assert!(
        joined.contains(&cli_line),
        "the CLI's line {cli_line:?} in:\n{screen}"
    );
    assert_no_crash_text(&screen);
}

/// `bigyo --images DIR` at 160x45 on a folder of the CLIP golden set's images plus two files
/// that are not images: the folder loads without them, the status line names each with its
/// reason, a typed Korean query ranks every image and the screen draws half-block thumbnails
/// (`BIGYO_THUMBNAILS=halfblocks`: tmux answers no graphics query). The second start reads the
/// embeddings from the cache. Random weights: the order is not asserted, only that it ranks.
#[test]
fn an_image_folder_opens_ranked_by_a_korean_query_with_half_block_thumbnails() {
    let _one = one_at_a_time();
    let Some(bin) = release_binary() else {
        panic!("no release binary: run `make build` (make test does), or set BIGYO_BIN");
    };
    let home = tempfile::tempdir().unwrap();
    let folder = home.path().join("photos");
    std::fs::create_dir(&folder).unwrap();
    common::clip_image_folder(&folder);
    let images = common::clip_manifest()["images"].as_array().unwrap().len();
    let command = format!(
        "env BIGYO_CACHE_DIR='{home}/cache' BIGYO_THUMBNAILS=halfblocks LANG=C.UTF-8 '{bin}' \
         --device cpu --images '{folder}' --clip '{clip}' --clip-text '{text}'; \
         echo \"bigyo-exited-$?\"; sleep 30",
        home = home.path().display(),
        bin = bin.display(),
        folder = folder.display(),
        clip = common::clip_case_dir("tiny-clip"),
        text = common::clip_case_dir("tiny-mclip-distilbert"),
    );
    for run in 0..2 {
        let tmux = Tmux {
            socket: format!("bigyo-images-{}-{run}", std::process::id()),
        };
        let started = tmux.start(&command, (160, 45));
        let loaded = format!("{images} images");
        let screen = tmux.wait(started, "the folder to load", |s| s.contains(&loaded));
        let named = "2 skipped: notes.jpg, truncated.png · notes.jpg: cannot";
        assert!(screen.contains(named), "{screen}");
        assert_eq!(screen.contains("from the cache"), run == 1, "{screen}");
        tmux.type_text("고양이 사진");
        let screen = tmux.wait(started, "a ranking with thumbnails", |s| {
            s.contains("Ranked by CLIP cosine") && s.contains('▀') && !s.contains("loading…")
        });
        // Every image is ranked, the first one shown as the first thumbnail.
        assert!(screen.contains(&format!("{images:>3}. ")), "{screen}");
        assert!(screen.contains("#1 ") && screen.contains("#2 "), "{screen}");
        let past_the_end = format!("{:>3}. ", images + 1);
        assert!(!screen.contains(&past_the_end), "{screen}");
        assert_no_crash_text(&screen);
        tmux.keys(&["Escape"]);
        tmux.wait(started, "bigyo to exit", |s| s.contains("bigyo-exited-0"));
    }
}

/// Lesson mode at 80x24 and 160x45: `bigyo lesson` opens the built-in chapter, PgDn / PgUp
/// walk its steps (each sets its screen up: the dataset question typed and run), Ctrl-S saves
/// the session, and `--session FILE` restores it at the same step with the same query.
#[test]
fn a_lesson_walks_forward_and_back_and_its_session_restores() {
    let _serial = one_at_a_time();
    for size in [(80, 24), (160, 45)] {
        let cache = tempfile::tempdir().expect("temp dir");
        let file = cache.path().join("demo.toml");
        std::fs::write(&file, "version = 1\n").expect("an empty session");
        let tmux = Tmux {
            socket: format!("bigyo-e2e-lesson-{}-{}", std::process::id(), size.0),
        };
        let extra = format!("lesson --session '{}'", file.display());
        let started = start_with(&tmux, cache.path(), "none", &extra, "", size);
        tmux.wait(started, "the first step", |s| {
            s.contains("1/7: One-hot") && s.contains("Ready")
        });
        tmux.keys(&["NPage"]);
        tmux.wait(started, "step 2", |s| s.contains("2/7: TF-IDF"));
        tmux.keys(&["NPage"]);
        let screen = tmux.wait(started, "step 3 with its question run", |s| {
            s.contains("3/7: Dense") && s.contains(QUESTION) && s.contains('✓')
        });
        assert_no_crash_text(&screen);
        tmux.keys(&["PPage"]);
        tmux.wait(started, "back to step 2", |s| s.contains("2/7: TF-IDF"));
        for _ in 0..2 {
            tmux.keys(&["NPage"]);
            std::thread::sleep(Duration::from_millis(200));
        }
        tmux.wait(started, "step 4", |s| s.contains("4/7: Bi-encoder"));
        tmux.keys(&["C-s"]);
        tmux.wait(started, "the session saved", |s| {
            s.contains("session saved to")
        });
        tmux.keys(&["C-c"]);
        let screen = tmux.wait(started, "bigyo to exit", |s| s.contains("bigyo-exited-"));
        assert!(screen.contains("bigyo-exited-0"), "{screen}");
        let saved = std::fs::read_to_string(&file).expect("the session file");
        assert!(
            saved.contains("step = 4") && saved.contains(QUESTION),
            "{saved}"
        );
        drop(tmux);

        let tmux = Tmux {
            socket: format!("bigyo-e2e-restore-{}-{}", std::process::id(), size.0),
        };
        let extra = format!("--session '{}'", file.display());
        let started = start_with(&tmux, cache.path(), "none", &extra, "", size);
        let screen = tmux.wait(started, "the restored step and query", |s| {
            // The query ran again: the status bar's cost line is for it.
            s.contains("4/7: Bi-encoder") && s.contains(QUESTION) && s.contains("cost: bi-encoder")
        });
        assert_no_crash_text(&screen);
        tmux.keys(&["C-c"]);
        let screen = tmux.wait(started, "bigyo to exit", |s| s.contains("bigyo-exited-"));
        assert!(screen.contains("bigyo-exited-0"), "{screen}");
    }
}

/// Issue 22's "where is the gold" and "why is this hit here" on the real binary, at 80x24 and
/// 160x45: after a dataset question the gold line gives the gold passage's rank in the
/// Semantic and BM25 panes, and Enter on the top Semantic hit opens the detail view with its
/// cosine and the BM25 breakdown (idf, tf, share of the score).
#[test]
fn the_gold_line_and_the_why_of_a_hit_at_80x24_and_160x45() {
    let _serial = one_at_a_time();
    for size in [(80, 24), (160, 45)] {
        let cache = tempfile::tempdir().expect("temp dir");
        let tmux = Tmux {
            socket: format!("bigyo-e2e-gold-{}-{}", std::process::id(), size.0),
        };
        let started = start_with(&tmux, cache.path(), "none", "", "", size);
        tmux.wait(started, "Ready", |s| s.contains("Ready"));
        tmux.type_text(QUESTION);
        tmux.keys(&["Enter"]);
        let screen = tmux.wait(started, "the gold line with ranks", |s| {
            s.lines().any(|l| {
                l.starts_with("gold p") && l.contains("Semantic #") && l.contains("BM25 #")
            })
        });
        assert_no_crash_text(&screen);
        let line = screen
            .lines()
            .find(|l| l.starts_with("gold p"))
            .unwrap_or_default()
            .to_string();
        assert!(line.chars().count() <= usize::from(size.0), "{line}");

        // Down leaves the query line for the Semantic pane; Enter opens its first hit.
        tmux.keys(&["Down", "Enter"]);
        let screen = tmux.wait(started, "the detail view's why", |s| {
            s.contains("score") && s.contains("idf") && s.contains("share")
        });
        assert!(screen.contains("Semantic"), "{screen}");
        assert!(screen.contains("BM25 score"), "{screen}");
        assert_no_crash_text(&screen);
        tmux.keys(&["Escape", "q"]);
        let screen = tmux.wait(started, "bigyo to exit", |s| s.contains("bigyo-exited-"));
        assert!(screen.contains("bigyo-exited-0"), "{screen}");
    }
}
