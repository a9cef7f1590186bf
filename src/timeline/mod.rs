//! A timeline of a run as one self-contained HTML page: a lane per node, messages as arrows
//! from send to delivery (dropped ones marked), faults as bands (crashes, pauses, isolations,
//! partitions, clogs, disk faults), the client history as bars, and the failure point marked.
//! Hovering shows an item's details, clicking pins them; the wheel zooms, dragging pans.
//!
//! The page needs no network: its style, script and data are inline, and it draws SVG. The
//! Rust side turns a recorded trace (a `Sim` built with `record_trace(true)`) into plain
//! records and writes them as JSON into the page (`page.html` holds the style and script).
//! A large run keeps the `events_max` items nearest the failure (or the end), so the page stays
//! usable; the page says how many it left out.
//!
//! Nothing here runs in the simulated path or reads the host clock.

use std::collections::BTreeMap;
use std::fmt::{self, Debug, Write as _};
use std::path::Path;

use crate::check::{Completion, History};
use crate::error::{Error, ErrorKind};
use crate::node::NodeId;
use crate::sim::outcome::{Cause, Failure, Outcome};
use crate::sim::Sim;
use crate::trace::{Event, EventKind};

/// Items a timeline keeps by default (see [`Timeline::events_max`]).
///
/// ```
/// use seedsim::timeline::{Timeline, EVENTS_MAX_DEFAULT};
/// let bigger = Timeline::new(vec![], vec![]).events_max(4 * EVENTS_MAX_DEFAULT);
/// # let _ = bigger;
/// ```
pub const EVENTS_MAX_DEFAULT: usize = 100_000;

const PAGE: &str = include_str!("page.html");

/// A timeline of one run, ready to be written as an HTML page.
///
/// ```
/// use std::time::Duration;
/// use seedsim::{net::UdpSocket, timeline::Timeline, Sim};
///
/// async fn echo() -> std::io::Result<()> {
///     let socket = UdpSocket::bind("0.0.0.0:9").await?;
///     let mut buf = [0; 8];
///     loop {
///         let (len, from) = socket.recv_from(&mut buf).await?;
///         socket.send_to(&buf[..len], from).await?;
///     }
/// }
///
/// let mut sim = Sim::builder().record_trace(true).build()?;
/// sim.node("server", echo)?;
/// sim.client("client", async {
///     let socket = UdpSocket::bind("0.0.0.0:0").await?;
///     socket.send_to(b"hi", ("server", 9)).await?;
///     seedsim::time::sleep(Duration::from_millis(50)).await;
///     Ok::<(), std::io::Error>(())
/// })?;
/// let outcome = sim.run();
/// let html = Timeline::from_sim(&mut sim)?.outcome(&outcome).to_html();
/// assert!(html.starts_with("<!DOCTYPE html>"));
/// assert!(html.contains("\"lanes\":[\"server\",\"client\"]"));
/// # Ok::<(), seedsim::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Timeline {
    title: String,
    names: Vec<String>,
    events: Vec<Event>,
    failure: Option<Mark>,
    status: Option<String>,
    ops: Vec<OpBar>,
    /// The operation a history check blamed, drawn apart.
    blamed: Option<u64>,
    events_max: usize,
}

/// The failure point: when, where, and the report.
#[derive(Clone, Debug)]
struct Mark {
    at: u64,
    node: Option<String>,
    cause: String,
    report: String,
}

/// One operation of a client history, as a bar.
#[derive(Clone, Debug)]
pub(crate) struct OpBar {
    /// Its id in its history, to find the operation a history check blamed.
    id: u64,
    lane: Option<NodeId>,
    from: u64,
    to: Option<u64>,
    status: &'static str,
    label: String,
}

/// The bars of a history's operations.
pub(crate) fn op_bars<I: Debug, O: Debug>(history: &History<I, O>) -> Vec<OpBar> {
    history
        .ops()
        .iter()
        .map(|op| {
            let (status, result) = match op.completion() {
                Some(Completion::Ok(output)) => ("ok", format!("ok {output:?}")),
                Some(Completion::Fail) => ("fail", "fail".to_owned()),
                Some(Completion::Unknown) => ("unknown", "unknown".to_owned()),
                None => ("pending", "pending".to_owned()),
            };
            OpBar {
                id: op.id().index() as u64,
                lane: op.node(),
                from: op.invoked_at().as_nanos(),
                to: op.completed_at().map(|at| at.as_nanos()),
                status,
                label: format!("{} (client {}): {:?} -> {result}", op.id(), op.client(), op.input()),
            }
        })
        .collect()
}

impl Timeline {
    /// A timeline of `events` (a whole trace, from `Sim::take_trace`), with `names` the node
    /// names by index (`Sim::node_names`).
    ///
    /// ```
    /// use seedsim::{timeline::Timeline, time::Instant, trace::{Event, EventKind}};
    /// let events = vec![Event { at: Instant::from_nanos(5), kind: EventKind::HealAll }];
    /// let html = Timeline::new(vec!["a".into()], events).to_html();
    /// assert!(html.contains("heal all"));
    /// ```
    pub fn new(names: Vec<String>, events: Vec<Event>) -> Timeline {
        Timeline {
            title: "seedsim run".to_owned(),
            names,
            events,
            failure: None,
            status: None,
            ops: Vec::new(),
            blamed: None,
            events_max: EVENTS_MAX_DEFAULT,
        }
    }

    /// A timeline of everything `sim` recorded so far (its trace is taken out of it).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidConfig`] if `sim` was not built with `record_trace(true)` (or its
    /// trace was already taken).
    ///
    /// ```
    /// use seedsim::{timeline::Timeline, Sim, ErrorKind};
    /// let mut sim = Sim::new(seedsim::Seed(1));
    /// let err = Timeline::from_sim(&mut sim).unwrap_err();
    /// assert!(matches!(err.kind(), ErrorKind::InvalidConfig { .. }));
    /// ```
    pub fn from_sim(sim: &mut Sim) -> Result<Timeline, Error> {
        let names = sim.node_names();
        let events = sim.take_trace().ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidConfig {
                    field: "Builder::record_trace",
                    expected: "true (a timeline is drawn from the whole trace, which only a Sim built with record_trace(true) keeps)",
                },
                "false",
            )
        })?;
        Ok(Timeline::new(names, events).title(format!("seedsim run, seed {}", sim.seed())).checked_histories(sim))
    }

    /// With the histories `sim` checks ([`Sim::check_history`]) drawn.
    pub(crate) fn checked_histories(mut self, sim: &Sim) -> Timeline {
        for bars in sim.drawn_histories() {
            self.ops.extend(bars);
        }
        self
    }

    /// The page's title.
    ///
    /// ```
    /// let html = seedsim::timeline::Timeline::new(vec![], vec![]).title("kv, seed 0x01").to_html();
    /// assert!(html.contains("<title>kv, seed 0x01</title>"));
    /// ```
    pub fn title(mut self, title: impl Into<String>) -> Timeline {
        self.title = title.into();
        self
    }

    /// How the run ended: a failure is marked (see [`failure`](Timeline::failure)), and the
    /// page's header says passed or failed.
    ///
    /// ```
    /// use seedsim::{timeline::Timeline, Sim};
    /// let mut sim = Sim::builder().record_trace(true).build()?;
    /// sim.client("c", async { Err::<(), _>(std::io::Error::other("boom")) })?;
    /// let outcome = sim.run();
    /// let html = Timeline::from_sim(&mut sim)?.outcome(&outcome).to_html();
    /// assert!(html.contains("client returned an error: boom"));
    /// # Ok::<(), seedsim::Error>(())
    /// ```
    pub fn outcome(self, outcome: &Outcome) -> Timeline {
        match outcome {
            Outcome::Passed(summary) => {
                let mut timeline = self;
                timeline.status = Some(format!("passed at {} after {} steps", summary.time, summary.steps));
                timeline
            }
            Outcome::Failed(failure) => self.failure(failure),
        }
    }

    /// Mark the failure: a line across every lane at its time, a marker on its node's lane, and
    /// its report in the details.
    ///
    /// ```
    /// use seedsim::{timeline::Timeline, Sim};
    /// let mut sim = Sim::builder().record_trace(true).build()?;
    /// sim.client("c", async {
    ///     assert!(1 + 1 == 3, "invariant broken");
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// let failure = sim.run().into_failure().unwrap();
    /// let html = Timeline::from_sim(&mut sim)?.failure(&failure).to_html();
    /// assert!(html.contains("invariant broken"));
    /// # Ok::<(), seedsim::Error>(())
    /// ```
    pub fn failure(mut self, failure: &Failure) -> Timeline {
        self.status = Some(format!("failed at {} (step {})", failure.time, failure.step));
        if let Cause::History { op, .. } = &failure.cause {
            self.blamed = *op;
        }
        self.failure = Some(Mark {
            at: failure.time.as_nanos(),
            node: failure.node.clone(),
            cause: failure.cause.to_string(),
            report: failure.to_string(),
        });
        self
    }

    /// Draw a client history: each operation as a bar on the lane of the node that invoked it,
    /// from invocation to completion (to the end of the run while pending), coloured by how it
    /// completed.
    ///
    /// ```
    /// use seedsim::{check::{History, RegisterInput, RegisterOutput}, timeline::Timeline, time::Instant};
    /// let mut history = History::new();
    /// let op = history.invoke_at(1, RegisterInput::Write(3u8), Instant::from_nanos(10))?;
    /// history.ok(op, RegisterOutput::<u8>::Write)?;
    /// let html = Timeline::new(vec![], vec![]).history(&history).to_html();
    /// assert!(html.contains("(client 1): Write(3)"));
    /// # Ok::<(), seedsim::Error>(())
    /// ```
    pub fn history<I: Debug, O: Debug>(mut self, history: &History<I, O>) -> Timeline {
        self.ops.extend(op_bars(history));
        self
    }

    /// Keep at most `items` drawable items (messages, bands, marks, operations): those nearest
    /// the failure, or the end of the run. The page says how many were left out.
    ///
    /// ```
    /// use seedsim::{timeline::Timeline, time::Instant, trace::{Event, EventKind}};
    /// let events: Vec<Event> =
    ///     (0..10).map(|t| Event { at: Instant::from_nanos(t), kind: EventKind::HealAll }).collect();
    /// let html = Timeline::new(vec![], events).events_max(3).to_html();
    /// assert!(html.contains("\"omitted\":7"));
    /// ```
    pub fn events_max(mut self, items: usize) -> Timeline {
        self.events_max = items;
        self
    }

    /// Write the page to `path`.
    ///
    /// # Errors
    /// The file cannot be written.
    ///
    /// ```no_run
    /// seedsim::timeline::Timeline::new(vec![], vec![]).write("run.html")?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn write(&self, path: impl AsRef<Path>) -> std::io::Result<()> {
        std::fs::write(path, self.to_html())
    }

    /// The page: HTML with its style, script and data inline.
    ///
    /// ```
    /// let html = seedsim::timeline::Timeline::new(vec!["n1".into()], vec![]).to_html();
    /// assert!(html.contains("<svg"));
    /// assert!(!html.contains(" src=") && !html.contains("<link") && !html.contains("http")); // nothing to fetch
    /// ```
    pub fn to_html(&self) -> String {
        // Split the page at its two placeholders once, so nothing in the title or the data is
        // ever taken for a placeholder.
        let (head, rest) = PAGE.split_once("{{TITLE}}").expect("the page has a title placeholder");
        let (middle, tail) = rest.split_once("{{DATA}}").expect("the page has a data placeholder");
        let data = self.data();
        let mut html = String::with_capacity(PAGE.len() + data.len() + self.title.len());
        html.push_str(head);
        html.push_str(&escape_html(&self.title));
        html.push_str(middle);
        html.push_str(&data);
        html.push_str(tail);
        html
    }

    /// The page's data, as JSON.
    fn data(&self) -> String {
        let items = Items::build(&self.names, &self.events, &self.ops, self.blamed);
        let end = self
            .events
            .last()
            .map_or(0, |e| e.at.as_nanos())
            .max(self.failure.as_ref().map_or(0, |f| f.at))
            .max(self.ops.iter().map(|op| op.to.unwrap_or(op.from)).max().unwrap_or(0));
        let focus = self.failure.as_ref().map_or(end, |f| f.at);
        let (items, omitted) = items.window(focus, self.events_max);
        let mut json = String::with_capacity(256 + items.len() * 96);
        json.push('{');
        let _ = write!(json, "\"title\":{},", Json(&self.title));
        let _ = write!(json, "\"status\":{},", Json(self.status.as_deref().unwrap_or("")));
        let _ = write!(json, "\"end\":{end},\"omitted\":{omitted},");
        json.push_str("\"lanes\":[");
        for (index, name) in self.names.iter().enumerate() {
            if index > 0 {
                json.push(',');
            }
            let _ = write!(json, "{}", Json(name));
        }
        json.push_str("],\"failure\":");
        match &self.failure {
            Some(mark) => {
                let lane = mark.node.as_ref().and_then(|node| self.names.iter().position(|n| n == node));
                let _ = write!(
                    json,
                    "{{\"t\":{},\"lane\":{},\"cause\":{},\"report\":{}}}",
                    mark.at,
                    lane.map_or(-1, |l| l as i64),
                    Json(&mark.cause),
                    Json(&mark.report)
                );
            }
            None => json.push_str("null"),
        }
        // Items: [kind, lane, from, to, lane2, class, label]
        json.push_str(",\"items\":[");
        for (index, item) in items.iter().enumerate() {
            if index > 0 {
                json.push(',');
            }
            let _ = write!(
                json,
                "[{},{},{},{},{},{},{}]",
                Json(item.kind.word()),
                item.lane.map_or(-1, |l| l as i64),
                item.from,
                item.to.map_or(-1, |t| t as i64),
                item.lane2.map_or(-1, |l| l as i64),
                Json(item.class),
                Json(&item.label)
            );
        }
        json.push_str("]}");
        json
    }
}

/// What an item is drawn as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// An arrow from `lane` at `from` to `lane2` at `to`.
    Arrow,
    /// A band on `lane` (or across the top, for the whole network) from `from` to `to`.
    Band,
    /// A point event on `lane` at `from`.
    Mark,
    /// A client operation on `lane` from `from` to `to`.
    Op,
}

impl Shape {
    fn word(self) -> &'static str {
        match self {
            Shape::Arrow => "arrow",
            Shape::Band => "band",
            Shape::Mark => "mark",
            Shape::Op => "op",
        }
    }
}

#[derive(Clone, Debug)]
struct Item {
    kind: Shape,
    /// `None`: the whole network (the top lane).
    lane: Option<usize>,
    from: u64,
    /// `None`: still open at the end of the run.
    to: Option<u64>,
    lane2: Option<usize>,
    /// A CSS class saying what it is: `delivered`, `dropped`, `down`, `paused`, ...
    class: &'static str,
    label: String,
}

struct Items {
    items: Vec<Item>,
}

/// A message in flight: when and where it was sent, and what it is.
struct Flight {
    at: u64,
    from: usize,
    to: usize,
    label: String,
}

impl Items {
    fn build(names: &[String], events: &[Event], ops: &[OpBar], blamed: Option<u64>) -> Items {
        use EventKind::*;
        let lane = |node: NodeId| node.index();
        let name = |node: NodeId| names.get(node.index()).map_or("?", String::as_str);
        let mut items = Vec::new();
        // Messages in flight by number: datagrams and segments are numbered apart.
        let mut datagrams: BTreeMap<u64, Flight> = BTreeMap::new();
        let mut segments: BTreeMap<u64, Flight> = BTreeMap::new();
        // Stream connections: their two ends, to route segments.
        let mut conns: BTreeMap<u64, (usize, usize)> = BTreeMap::new();
        // Open bands by (class, lane, other lane).
        let mut open: Open = BTreeMap::new();
        let mark = |items: &mut Vec<Item>, lane: Option<usize>, at: u64, class: &'static str, label: String| {
            items.push(Item { kind: Shape::Mark, lane, from: at, to: None, lane2: None, class, label });
        };
        for event in events {
            let at = event.at.as_nanos();
            let text = || event.describe(names).to_string().trim().to_owned();
            match event.kind {
                Send { datagram, from, to, .. } => {
                    datagrams.insert(datagram, Flight { at, from: lane(from), to: lane(to), label: text() });
                }
                Duplicate { datagram, copy } => {
                    if let Some(original) = datagrams.get(&datagram) {
                        let label = format!("{} (copy {copy} of datagram {datagram})", original.label);
                        let (from, to) = (original.from, original.to);
                        datagrams.insert(copy, Flight { at, from, to, label });
                    }
                }
                Deliver { datagram, .. } => {
                    if let Some(flight) = datagrams.remove(&datagram) {
                        items.push(arrow(flight, at, "delivered", format!("delivered at {}", event.at)));
                    }
                }
                Drop { datagram, reason } => {
                    if let Some(flight) = datagrams.remove(&datagram) {
                        items.push(arrow(flight, at, "dropped", format!("dropped at {} ({reason:?})", event.at)));
                    }
                }
                StreamConnect { conn, from, to, .. } => {
                    conns.insert(conn, (lane(from), lane(to)));
                    mark(&mut items, Some(lane(from)), at, "stream", text());
                }
                StreamAccept { node, .. } | StreamOpen { node, .. } | StreamShutdown { node, .. } => {
                    mark(&mut items, Some(lane(node)), at, "stream", text());
                }
                StreamReset { node, .. } => mark(&mut items, Some(lane(node)), at, "reset", text()),
                SegmentSend { segment, conn, from, .. } => {
                    if let Some(&(a, b)) = conns.get(&conn) {
                        let to = if a == lane(from) { b } else { a };
                        segments.insert(segment, Flight { at, from: lane(from), to, label: text() });
                    }
                }
                SegmentDuplicate { segment, copy } => {
                    if let Some(original) = segments.get(&segment) {
                        let label = format!("{} (copy {copy} of segment {segment})", original.label);
                        let (from, to) = (original.from, original.to);
                        segments.insert(copy, Flight { at, from, to, label });
                    }
                }
                SegmentDeliver { segment, .. } => {
                    if let Some(flight) = segments.remove(&segment) {
                        items.push(arrow(flight, at, "delivered segment", format!("delivered at {}", event.at)));
                    }
                }
                SegmentDrop { segment, reason } => {
                    if let Some(flight) = segments.remove(&segment) {
                        let outcome = format!("dropped at {} ({reason:?})", event.at);
                        items.push(arrow(flight, at, "dropped segment", outcome));
                    }
                }
                NodeStart { node, incarnation } => {
                    close(&mut items, &mut open, ("down", Some(lane(node)), None), at);
                    if incarnation > 0 {
                        mark(&mut items, Some(lane(node)), at, "restart", text());
                    }
                }
                NodeCrash { node } => {
                    close(&mut items, &mut open, ("paused", Some(lane(node)), None), at);
                    mark(&mut items, Some(lane(node)), at, "crash", text());
                    open.insert(("down", Some(lane(node)), None), (at, format!("{} down", name(node))));
                }
                NodePause { node } => {
                    open.insert(("paused", Some(lane(node)), None), (at, format!("{} paused", name(node))));
                }
                NodeResume { node } => close(&mut items, &mut open, ("paused", Some(lane(node)), None), at),
                Isolate { node } => {
                    open.insert(("isolated", Some(lane(node)), None), (at, format!("{} isolated", name(node))));
                }
                Rejoin { node } => close(&mut items, &mut open, ("isolated", Some(lane(node)), None), at),
                Partition { from, to } => {
                    let label = format!("partition: nothing from {} reaches {}", name(from), name(to));
                    open.insert(("partitioned", Some(lane(to)), Some(lane(from))), (at, label));
                }
                Repair { from, to } => {
                    close(&mut items, &mut open, ("partitioned", Some(lane(to)), Some(lane(from))), at)
                }
                Clog { from, to, until } => {
                    let label = format!("clog: {} to {} delayed until {until}", name(from), name(to));
                    items.push(Item {
                        kind: Shape::Band,
                        lane: Some(lane(to)),
                        from: at,
                        to: Some(until.as_nanos()),
                        lane2: Some(lane(from)),
                        class: "clogged",
                        label,
                    });
                }
                HealAll => {
                    let keys: Vec<_> = open
                        .keys()
                        .filter(|(class, ..)| matches!(*class, "isolated" | "partitioned"))
                        .copied()
                        .collect();
                    for key in keys {
                        close(&mut items, &mut open, key, at);
                    }
                    mark(&mut items, None, at, "heal", text());
                }
                LossBurst { until, .. }
                | LatencySpike { until, .. }
                | DuplicateWindow { until, .. }
                | ReorderWindow { until, .. }
                | PrimariesCut { until, .. } => items.push(Item {
                    kind: Shape::Band,
                    lane: None,
                    from: at,
                    to: Some(until.as_nanos()),
                    lane2: None,
                    class: "network",
                    label: text(),
                }),
                DiskFault { node, until, .. } => items.push(Item {
                    kind: Shape::Band,
                    lane: Some(lane(node)),
                    from: at,
                    to: Some(until.as_nanos()),
                    lane2: None,
                    class: "disk",
                    label: text(),
                }),
                Skew { node, .. } | ClockJump { node, .. } => mark(&mut items, Some(lane(node)), at, "clock", text()),
                DiskCrash { node, .. } | DiskError { node, .. } | DiskMisdirected { node } => {
                    mark(&mut items, Some(lane(node)), at, "disk", text());
                }
                LinkSet { to, .. } => mark(&mut items, Some(lane(to)), at, "fault", text()),
                CrashArmed { node, .. } | PrimarySet { node, .. } | NodeExit { node } => {
                    mark(&mut items, Some(lane(node)), at, "fault", text())
                }
                // Scheduling (polls, spawns, task ends) would drown the page: the log has them.
                Poll { .. } | Spawn { .. } | TaskDone { .. } | TaskCancel { .. } | StreamPartial { .. } => {}
                // Anything else (world-wide faults, events added later) goes on the top lane.
                _ => mark(&mut items, None, at, "fault", text()),
            }
        }
        // Bands and messages still open at the end of the run.
        for ((class, lane, lane2), (from, label)) in open {
            items.push(Item { kind: Shape::Band, lane, from, to: None, lane2, class, label });
        }
        for flight in datagrams.into_values().chain(segments.into_values()) {
            items.push(Item {
                kind: Shape::Arrow,
                lane: Some(flight.from),
                from: flight.at,
                to: None,
                lane2: Some(flight.to),
                class: "in-flight",
                label: format!("{}\nstill in flight at the end", flight.label),
            });
        }
        for op in ops {
            let is_blamed = blamed == Some(op.id);
            items.push(Item {
                kind: Shape::Op,
                lane: op.lane.map(NodeId::index),
                from: op.from,
                to: op.to,
                lane2: None,
                class: if is_blamed { "blamed" } else { op.status },
                label: if is_blamed {
                    format!("the history check blames this operation\n{}\n{}", op.label, span(op.from, op.to))
                } else {
                    format!("{}\n{}", op.label, span(op.from, op.to))
                },
            });
        }
        Items { items }
    }

    /// The items to draw: all of them, or the `max` nearest `focus` in time; and how many
    /// were left out.
    fn window(self, focus: u64, max: usize) -> (Vec<Item>, usize) {
        let total = self.items.len();
        if total <= max {
            return (self.items, 0);
        }
        let mut items = self.items;
        let distance = |item: &Item| {
            let to = item.to.unwrap_or(u64::MAX);
            // Zero while the item spans the focus.
            item.from.saturating_sub(focus).max(focus.saturating_sub(to))
        };
        // Stable: ties keep trace order, so the page is the same on every run.
        items.sort_by_key(distance);
        items.truncate(max);
        items.sort_by_key(|item| item.from);
        (items, total - max)
    }
}

/// Bands open at this point of the trace, by (class, lane, other lane): since when, and what.
type Open = BTreeMap<(&'static str, Option<usize>, Option<usize>), (u64, String)>;

/// End the open band `key` (if any) at `at`.
fn close(items: &mut Vec<Item>, open: &mut Open, key: (&'static str, Option<usize>, Option<usize>), at: u64) {
    if let Some((from, label)) = open.remove(&key) {
        items.push(Item { kind: Shape::Band, lane: key.1, from, to: Some(at), lane2: key.2, class: key.0, label });
    }
}

fn arrow(flight: Flight, at: u64, class: &'static str, outcome: String) -> Item {
    Item {
        kind: Shape::Arrow,
        lane: Some(flight.from),
        from: flight.at,
        to: Some(at),
        lane2: Some(flight.to),
        class,
        label: format!("{}\n{outcome}", flight.label),
    }
}

fn span(from: u64, to: Option<u64>) -> String {
    let at = |t: u64| crate::time::Instant::from_nanos(t).to_string();
    match to {
        Some(to) => format!("{} .. {}", at(from), at(to)),
        None => format!("{} .. (still running at the end)", at(from)),
    }
}

/// A string as a JSON string literal, safe inside a `<script>` element.
struct Json<'a>(&'a str);

impl fmt::Display for Json<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        for c in self.0.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                // `<` and `>` escaped so no text can close the script element; `&` for good measure.
                '<' => f.write_str("\\u003c")?,
                '>' => f.write_str("\\u003e")?,
                '&' => f.write_str("\\u0026")?,
                '\u{2028}' => f.write_str("\\u2028")?,
                '\u{2029}' => f.write_str("\\u2029")?,
                c if (c as u32) < 0x20 => write!(f, "\\u{:04x}", c as u32)?,
                c => f.write_char(c)?,
            }
        }
        f.write_char('"')
    }
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_cannot_break_out_of_the_script() {
        let text = Json("a\"b\\c\n</script><b>&\u{1}").to_string();
        assert_eq!(text, "\"a\\\"b\\\\c\\n\\u003c/script\\u003e\\u003cb\\u003e\\u0026\\u0001\"");
    }

    #[test]
    fn the_window_keeps_the_items_nearest_the_focus() {
        let item = |from: u64| Item {
            kind: Shape::Mark,
            lane: None,
            from,
            to: Some(from),
            lane2: None,
            class: "fault",
            label: String::new(),
        };
        let items = Items { items: (0..10).map(item).collect() };
        let (kept, omitted) = items.window(7, 3);
        assert_eq!(kept.iter().map(|i| i.from).collect::<Vec<_>>(), [6, 7, 8]);
        assert_eq!(omitted, 7);
    }
}
