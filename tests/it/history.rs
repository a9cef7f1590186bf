//! Recording histories: times from the simulated clock (true time, not a node's skewed
//! clock), nodes, the three completions, pending operations, and typed errors for misuse.

use std::time::Duration;

use seedsim::check::{check, Completion, History, Kv, KvInput, KvOutput, Recorder};
use seedsim::time::{self, Instant, Skew};
use seedsim::{ErrorKind, Seed, Sim};

#[test]
fn a_recorder_stamps_true_simulated_time_and_the_node() {
    let recorder = Recorder::<KvInput<u8, u8>, KvOutput<u8>>::new();
    let mut sim = Sim::new(Seed(1));
    for (index, name) in ["c0", "c1"].into_iter().enumerate() {
        let history = recorder.clone();
        sim.client(name, async move {
            time::sleep(Duration::from_millis(10 * (index as u64 + 1))).await;
            let op = history.invoke(index as u64, KvInput::Put(1, index as u8));
            time::sleep(Duration::from_millis(5)).await;
            history.ok(op, KvOutput::Put)?;
            let op = history.invoke(index as u64, KvInput::Get(1));
            time::sleep(Duration::from_millis(100)).await;
            history.unknown(op)?;
            Ok::<(), seedsim::Error>(())
        })
        .unwrap();
    }
    // c1's clock is an hour ahead: the history must not care.
    sim.skew_clock("c1", Skew::ahead(Duration::from_secs(3600))).unwrap();
    sim.run().unwrap();
    let history = recorder.history();
    let ms = |millis: u64| Instant::from_nanos(millis * 1_000_000);
    let summary: Vec<_> = history
        .ops()
        .iter()
        .map(|op| (op.client(), op.node().map(|n| n.index()), op.invoked_at(), op.completed_at()))
        .collect();
    assert_eq!(
        summary,
        [
            (0, Some(0), ms(10), Some(ms(15))),
            (0, Some(0), ms(15), Some(ms(115))),
            (1, Some(1), ms(20), Some(ms(25))),
            (1, Some(1), ms(25), Some(ms(125))),
        ]
    );
    assert_eq!(history.ops()[1].completion(), Some(&Completion::Unknown));
    assert!(check(&Kv::new(), &history).is_linearizable());
}

#[test]
fn operations_left_running_at_the_end_are_pending() {
    let recorder = Recorder::<KvInput<u8, u8>, KvOutput<u8>>::new();
    let mut sim = Sim::new(Seed(2));
    let history = recorder.clone();
    sim.node("server", std::future::pending::<std::io::Result<()>>).unwrap();
    sim.client("c", async move {
        let done = history.invoke(1, KvInput::Put(1, 1));
        history.ok(done, KvOutput::Put)?;
        history.invoke(1, KvInput::Put(1, 2)); // the client gives up without a word
        Ok::<(), seedsim::Error>(())
    })
    .unwrap();
    sim.run().unwrap();
    let history = recorder.history();
    let pending: Vec<usize> = history.pending().map(|op| op.id().index()).collect();
    assert_eq!(pending, [1]);
    assert!(history.ops()[1].is_pending());
    assert_eq!(history.ops()[1].completed_at(), None);
}

#[test]
fn misuse_is_a_typed_error_not_a_panic() {
    let mut history = History::<&str, u8>::new();
    let op = history.invoke(1, "read");
    history.ok(op, 1).unwrap();
    let err = history.ok(op, 2).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::HistoryOpCompletedTwice);
    assert_eq!(
        err.to_string(),
        "invalid history event (op 0 completed ok after it completed ok): an operation completes once, as ok, fail or unknown"
    );
    let err = history.fail(op).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::HistoryOpCompletedTwice);

    // A completion without an invocation in this history.
    let other = History::<&str, u8>::new().invoke(1, "read");
    let err = history.unknown(other).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::HistoryOpUnknown);
    assert!(err.to_string().contains("the operation was not invoked in this history"), "{err}");
    assert!(history.op(other).is_none());

    // Time may not go backwards.
    let mut timed = History::<&str, u8>::new();
    let op = timed.invoke_at(1, "read", Instant::from_nanos(50)).unwrap();
    let err = timed.complete_at(op, Completion::Ok(1), Instant::from_nanos(49)).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::HistoryTimeBackwards);
    assert!(timed.op(op).unwrap().is_pending(), "a refused completion changes nothing");
    timed.complete_at(op, Completion::Ok(1), Instant::from_nanos(50)).unwrap();

    // The recorder reports the same errors.
    let recorder = Recorder::<&str, u8>::new();
    let op = recorder.invoke(1, "read");
    recorder.fail(op).unwrap();
    assert_eq!(recorder.ok(op, 1).unwrap_err().kind(), &ErrorKind::HistoryOpCompletedTwice);
    let taken = recorder.take();
    assert_eq!(taken.len(), 1);
    assert_eq!(recorder.unknown(op).unwrap_err().kind(), &ErrorKind::HistoryOpUnknown);
}

#[test]
fn outside_a_simulation_time_stands_still() {
    let mut history = History::<&str, u8>::new();
    let a = history.invoke_at(1, "a", Instant::from_nanos(70)).unwrap();
    let b = history.invoke(2, "b");
    history.ok(a, 0).unwrap();
    assert_eq!(history.op(b).unwrap().invoked_at(), Instant::from_nanos(70));
    assert_eq!(history.op(a).unwrap().completed_at(), Some(Instant::from_nanos(70)));
}

/// Two clients over a shared value where the reader sees a write before it happens when
/// `stale` (a value nobody had written yet), each recording its operations.
fn two_clients(sim: &mut Sim, stale: bool) -> Recorder<KvInput<u8, u8>, KvOutput<u8>> {
    let recorder = Recorder::<KvInput<u8, u8>, KvOutput<u8>>::new();
    let writer = recorder.clone();
    sim.client("writer", async move {
        time::sleep(Duration::from_millis(50)).await;
        let op = writer.invoke(0, KvInput::Put(1, 5));
        time::sleep(Duration::from_millis(5)).await;
        writer.ok(op, KvOutput::Put)?;
        Ok::<(), seedsim::Error>(())
    })
    .unwrap();
    let reader = recorder.clone();
    sim.client("reader", async move {
        time::sleep(Duration::from_millis(10)).await;
        let op = reader.invoke(1, KvInput::Get(1));
        time::sleep(Duration::from_millis(5)).await;
        reader.ok(op, KvOutput::Get(if stale { Some(5) } else { None }))?;
        time::sleep(Duration::from_secs(2)).await;
        Ok::<(), seedsim::Error>(())
    })
    .unwrap();
    recorder
}

#[test]
fn a_history_checked_at_the_end_points_the_report_and_the_timeline_at_the_blamed_operation() {
    use seedsim::check::Checker;
    use seedsim::timeline::Timeline;
    let mut sim = Sim::builder().record_trace(true).build().unwrap();
    let recorder = two_clients(&mut sim, true);
    sim.check_history(&recorder, Kv::new(), Checker::new());
    let failure = sim.run().into_failure().expect("a read of 5 before anyone wrote it");
    assert!(matches!(failure.cause, seedsim::Cause::History { op: Some(0), .. }), "{}", failure.cause);
    // At the read's completion on the reader, not at the run's end two seconds later.
    assert_eq!(failure.time, Instant::ZERO + Duration::from_millis(15));
    assert_eq!(failure.node.as_deref(), Some("reader"));
    let html = Timeline::from_sim(&mut sim).unwrap().failure(&failure).to_html();
    assert!(html.contains("\"blamed\"") && html.contains("the history check blames this operation"), "drawn apart");
    assert!(html.contains("Put(1, 5)"), "the history is drawn with the trace");
    // The same clients reading what was there pass the same check.
    let mut sim = Sim::new(Seed(1));
    let recorder = two_clients(&mut sim, false);
    sim.check_history(&recorder, Kv::new(), Checker::new());
    assert!(sim.run().is_passed());
}
