//! The timeline page: what the Rust side puts in it, and, in a real headless Chromium, that
//! the page draws lanes, arrows (dropped ones marked), fault bands, operations and the failure
//! marker without a JavaScript error.
//!
//! The browser test needs Debian's `chromium` (`.ci/run` installs it). Without it the test
//! says loudly that it skipped; under CI (`CI` set) a missing browser fails it.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use seedsim::check::{Recorder, RegisterInput, RegisterOutput};
use seedsim::net::{Link, UdpSocket};
use seedsim::timeline::Timeline;
use seedsim::{time, world, Ratio, Seed, Sim};

async fn echo() -> std::io::Result<()> {
    let socket = UdpSocket::bind("0.0.0.0:9").await?;
    let mut buf = [0; 16];
    loop {
        let (len, from) = socket.recv_from(&mut buf).await?;
        socket.send_to(&buf[..len], from).await?;
    }
}

/// A small run with every kind of item: datagrams delivered and dropped, a partition, a
/// crash and restart, a pause, client operations (ok, unknown, pending), and a failure.
fn run() -> String {
    let mut sim = Sim::builder()
        .seed(Seed(3))
        .record_trace(true)
        .link(Link { loss: Ratio::percent(20).unwrap(), ..Link::default() })
        .build()
        .unwrap();
    sim.node("server", echo).unwrap();
    let ops = Recorder::<RegisterInput<u8>, RegisterOutput<u8>>::new();
    let history = ops.clone();
    sim.client("client", async move {
        let socket = UdpSocket::bind("0.0.0.0:0").await?;
        let mut buf = [0; 16];
        for round in 0..20u8 {
            if round == 5 {
                world::partition("client", "server")?;
            }
            if round == 8 {
                world::heal_all()?;
                world::bounce("server", Duration::from_millis(30))?;
            }
            if round == 12 {
                world::pause("server")?;
            }
            if round == 14 {
                world::resume("server")?;
            }
            let op = history.invoke(1, RegisterInput::Write(round));
            socket.send_to(&[round], ("server", 9)).await?;
            match time::timeout(Duration::from_millis(40), socket.recv_from(&mut buf)).await {
                Ok(_) => history.ok(op, RegisterOutput::Write)?,
                Err(_) => history.unknown(op)?,
            }
        }
        history.invoke(1, RegisterInput::Read); // never completes
        panic!("the client gives up: timeline test");
        #[allow(unreachable_code)]
        Ok::<(), Box<dyn std::error::Error>>(())
    })
    .unwrap();
    let outcome = sim.run();
    assert!(!outcome.is_passed());
    let timeline = Timeline::from_sim(&mut sim).unwrap().title("timeline test").outcome(&outcome);
    timeline.history(&ops.history()).to_html()
}

#[test]
fn the_page_carries_lanes_messages_faults_operations_and_the_failure() {
    let html = run();
    assert!(html.contains("<title>timeline test</title>"));
    assert!(html.contains("\"lanes\":[\"server\",\"client\"]"), "lanes");
    for needle in [
        "[\"arrow\",1,", // a datagram from the client
        "\"delivered\"",
        "\"dropped\"",
        "\"partitioned\"",
        "\"down\"",
        "\"paused\"",
        "\"crash\"",
        "\"restart\"",
        "[\"op\",1,",
        "\"ok\"",
        "\"unknown\"",
        "\"pending\"",
        "the client gives up: timeline test",
    ] {
        assert!(html.contains(needle), "the page has no {needle}");
    }
    assert!(!html.contains(" src=") && !html.contains("<link"), "the page must not fetch anything");
    assert!(!html.contains("http"), "no address of any kind in the page");
    // The same run gives the same page.
    assert_eq!(run(), html);
}

/// Debian's chromium (or another Chromium on the PATH), if installed.
fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"].iter().find_map(|name| {
        std::env::var_os("PATH")?
            .to_str()?
            .split(':')
            .map(|dir| PathBuf::from(dir).join(name))
            .find(|path| path.is_file())
    })
}

#[test]
fn a_headless_browser_draws_the_page_without_errors() {
    let Some(browser) = chromium() else {
        assert!(std::env::var_os("CI").is_none(), "CI is set but no chromium is installed (.ci/run installs it)");
        eprintln!(
            "SKIPPED: no chromium on the PATH; this test opens a timeline in headless Chromium \
             (apt-get install chromium; CI installs it)"
        );
        return;
    };
    let dir = std::env::temp_dir().join(format!("seedsim-timeline-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("run.html");
    std::fs::write(&page, run()).unwrap();
    let output = Command::new(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--window-size=1400,900",
            "--virtual-time-budget=3000",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&output.stdout);
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "chromium failed: {log}");
    let body = dom.split("<body").nth(1).and_then(|b| b.split('>').next()).unwrap_or("");
    assert!(body.contains("data-status=\"ok\""), "the page's script did not finish: <body{body}>\n{log}");
    let count = |needle: &str| dom.matches(needle).count();
    assert_eq!(count("class=\"lane\""), 2, "one lane per node");
    assert_eq!(count("class=\"lane net\""), 1, "the network lane");
    assert!(count("class=\"arrow delivered\"") > 5, "delivered arrows");
    assert!(count("class=\"arrow dropped\"") > 0, "dropped arrows");
    assert!(count("class=\"drop-x\"") > 0, "dropped arrows are marked");
    assert!(count("class=\"band partitioned\"") > 0 && count("class=\"band down\"") > 0, "fault bands");
    assert!(count("class=\"op ok\"") > 0 && count("class=\"op unknown\"") > 0, "operations");
    assert_eq!(count("class=\"failure-marker\""), 1, "the failure marker");
    // Console errors (uncaught exceptions, failed loads) appear in Chromium's log.
    for line in log.lines() {
        assert!(
            !(line.contains("CONSOLE") && (line.contains("Uncaught") || line.contains("Error"))),
            "a JavaScript error: {line}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Open `html` in headless Chromium at 1400×900: the DOM after the script ran, and a
/// screenshot's size in bytes. `None` (said loudly) without a browser.
fn in_browser(name: &str, html: &str) -> Option<(String, u64)> {
    let Some(browser) = chromium() else {
        assert!(std::env::var_os("CI").is_none(), "CI is set but no chromium is installed (.ci/run installs it)");
        eprintln!("SKIPPED: no chromium on the PATH (apt-get install chromium; CI installs it)");
        return None;
    };
    let dir = std::env::temp_dir().join(format!("seedsim-timeline-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("run.html");
    std::fs::write(&page, html).unwrap();
    let open = |extra: &str| {
        let output = Command::new(&browser)
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars"])
            .args(["--window-size=1400,900", "--virtual-time-budget=3000"])
            .arg(format!("--user-data-dir={}", dir.join("profile").display()))
            .arg(extra)
            .arg(format!("file://{}", page.display()))
            .output()
            .expect("chromium runs");
        assert!(output.status.success(), "chromium failed: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let dom = open("--dump-dom");
    let shot = dir.join("shot.png");
    open(&format!("--screenshot={}", shot.display()));
    let bytes = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    let _ = std::fs::remove_dir_all(&dir);
    Some((dom, bytes))
}

/// A `data-` attribute of the page's body.
fn body_attr(dom: &str, name: &str) -> String {
    let body = dom.split("<body").nth(1).and_then(|b| b.split('>').next()).unwrap_or("");
    let key = format!("data-{name}=\"");
    body.split(&key).nth(1).and_then(|rest| rest.split('"').next()).unwrap_or("").to_owned()
}

#[test]
fn at_1400_by_900_the_chart_fills_the_window_the_legend_matches_and_the_failure_is_in_full() {
    let Some((dom, screenshot)) = in_browser("layout", &run()) else { return };
    assert_eq!(body_attr(&dom, "status"), "ok");
    assert!(screenshot > 10_000, "a screenshot of the page ({screenshot} bytes)");
    // Every class drawn (arrows, bands, operations, marks) has its legend entry, drawn with
    // the same style.
    assert_eq!(body_attr(&dom, "legend-missing"), "", "classes drawn but not in the legend");
    let fraction: f64 = body_attr(&dom, "chart-fraction").parse().unwrap();
    assert!(fraction >= 0.6, "the chart takes {fraction} of the window's height");
    // The failure's cause, whole, in the banner above the chart.
    let banner = dom.split("id=\"banner\"").nth(1).and_then(|b| b.split("</div>").next()).unwrap_or("");
    assert!(banner.contains("failure: panic") && banner.contains("the client gives up: timeline test"), "{banner}");
}

#[test]
fn at_whole_run_zoom_a_heartbeat_is_drawn_faint_not_as_a_wall_of_arrows() {
    let mut sim = Sim::builder().seed(Seed(5)).record_trace(true).build().unwrap();
    sim.node("server", echo).unwrap();
    sim.client("heartbeat", async {
        let socket = UdpSocket::bind("0.0.0.0:0").await?;
        let mut buf = [0; 16];
        for beat in 0..1500u16 {
            socket.send_to(&beat.to_le_bytes(), ("server", 9)).await?;
            socket.recv_from(&mut buf).await?;
            time::sleep(Duration::from_millis(2)).await;
        }
        Ok::<(), std::io::Error>(())
    })
    .unwrap();
    let outcome = sim.run();
    let html = Timeline::from_sim(&mut sim).unwrap().outcome(&outcome).to_html();
    let Some((dom, _)) = in_browser("dense", &html) else { return };
    assert_eq!(body_attr(&dom, "status"), "ok");
    assert_eq!(body_attr(&dom, "dense"), "1", "3,000 messages over 1,400 pixels");
    assert!(dom.contains("class=\"arrow delivered dense\""));
    assert_eq!(dom.matches("marker-end=\"url(").count(), 2, "no arrowheads when dense (but the legend's two)");
}
