//! [`FaultPlan`]: a timed list of faults, with a text form that parses back to the same plan.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::text::{invalid, parse_duration, parse_fault, write_duration};
use super::Fault;
use crate::error::Error;

/// A fault at a simulated time (from the start of the run).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimedFault {
    /// When it happens.
    pub at: Duration,
    /// What happens.
    pub fault: Fault,
}

/// Faults at simulated times, in time order (faults at the same time in the order added).
///
/// Install one with [`Sim::faults`](crate::Sim::faults). A plan prints as text, one fault a
/// line, and parses back to the same plan, so a failing run's plan can be read in its report,
/// edited and replayed:
///
/// ```
/// use std::time::Duration;
/// use seedsim::fault::{Fault, FaultPlan};
///
/// let mut plan = FaultPlan::new();
/// plan.push(Duration::from_millis(1500), Fault::Crash("db1".into()));
/// plan.push(Duration::from_secs(3), Fault::Partition { a: vec!["db1".into(), "db2".into()], b: vec!["db3".into()] });
/// plan.push(Duration::from_secs(5), Fault::Recover);
/// let text = plan.to_string();
/// assert_eq!(text, "1500ms crash db1\n3s partition db1,db2 | db3\n5s recover\n");
/// assert_eq!(text.parse::<FaultPlan>()?, plan);
/// # Ok::<(), seedsim::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultPlan {
    faults: Vec<TimedFault>,
}

impl FaultPlan {
    /// An empty plan.
    pub fn new() -> FaultPlan {
        FaultPlan::default()
    }

    /// Add `fault` at `at`, after any fault already at that time.
    pub fn push(&mut self, at: Duration, fault: Fault) {
        let index = self.faults.partition_point(|timed| timed.at <= at);
        self.faults.insert(index, TimedFault { at, fault });
    }

    /// The plan that `push`ing each of `pushes` in turn makes: a stable sort by time, which
    /// keeps faults at the same time in the order pushed, without shifting the later faults
    /// once per push.
    pub(crate) fn from_pushes(mut pushes: Vec<TimedFault>) -> FaultPlan {
        pushes.sort_by_key(|timed| timed.at);
        FaultPlan { faults: pushes }
    }

    /// The faults, in order.
    pub fn faults(&self) -> &[TimedFault] {
        &self.faults
    }

    /// How many faults.
    pub fn len(&self) -> usize {
        self.faults.len()
    }

    /// True if the plan has no fault.
    pub fn is_empty(&self) -> bool {
        self.faults.is_empty()
    }

    /// The time of the last fault (zero for an empty plan).
    pub fn end(&self) -> Duration {
        self.faults.last().map_or(Duration::ZERO, |timed| timed.at)
    }

    /// The same plan without the fault at `index`: one step of shrinking.
    ///
    /// # Panics
    /// If `index` is out of range.
    pub fn without(&self, index: usize) -> FaultPlan {
        let mut faults = self.faults.clone();
        faults.remove(index);
        FaultPlan { faults }
    }

    /// The plans of `self` and `other` together.
    pub fn merged(&self, other: &FaultPlan) -> FaultPlan {
        let mut merged = self.clone();
        for timed in &other.faults {
            merged.push(timed.at, timed.fault.clone());
        }
        merged
    }
}

impl fmt::Display for FaultPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for timed in &self.faults {
            write_duration(f, timed.at)?;
            writeln!(f, " {}", timed.fault)?;
        }
        Ok(())
    }
}

/// Parse the text form. Blank lines and lines starting with `#` are skipped.
///
/// # Errors
/// [`ErrorKind::InvalidFaultPlan`](crate::ErrorKind::InvalidFaultPlan) naming the line and
/// what was expected there.
impl FromStr for FaultPlan {
    type Err = Error;

    fn from_str(text: &str) -> Result<FaultPlan, Error> {
        let mut plan = FaultPlan::new();
        for (index, line) in text.lines().enumerate() {
            let number = index + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (time, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            let at = parse_duration(time)
                .ok_or_else(|| invalid(number, line, "a time such as 1500ms or 2s, then a fault"))?;
            plan.push(at, parse_fault(number, rest.trim())?);
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::Trigger;
    use crate::rand::Ratio;
    use crate::time::Skew;

    fn every_kind() -> FaultPlan {
        let n = |s: &str| s.to_owned();
        let ms = Duration::from_millis;
        let mut plan = FaultPlan::new();
        let faults = vec![
            Fault::Crash(n("a")),
            Fault::Restart(n("a")),
            Fault::Bounce { node: n("b"), down: ms(250) },
            Fault::Pause(n("c")),
            Fault::Resume(n("c")),
            Fault::Partition { a: vec![n("a"), n("b")], b: vec![n("c")] },
            Fault::PartitionOneWay { from: vec![n("a")], to: vec![n("b"), n("c")] },
            Fault::Repair { a: vec![n("a")], b: vec![n("c")] },
            Fault::Isolate(n("b")),
            Fault::Rejoin(n("b")),
            Fault::Clog { a: n("a"), b: n("c"), duration: ms(40) },
            Fault::HealAll,
            Fault::Skew { node: n("a"), skew: Skew::behind(ms(1500)).with_drift_ppm(-250).unwrap() },
            Fault::Skew { node: n("b"), skew: Skew::ahead(ms(3)) },
            Fault::Jump { node: n("c"), by_nanos: -7 },
            Fault::LossBurst { loss: Ratio::new(3, 10).unwrap(), duration: Duration::from_secs(2) },
            Fault::LatencySpike { extra: ms(200), duration: Duration::from_secs(1) },
            Fault::DiskErrors { node: n("a"), ratio: Ratio::new(1, 10).unwrap(), duration: ms(700) },
            Fault::DiskMisdirect { node: n("b"), ratio: Ratio::percent(2).unwrap(), duration: ms(50) },
            Fault::DiskFull { node: n("c"), duration: Duration::from_secs(3) },
            Fault::DiskSlow { node: n("a"), extra: ms(20), duration: ms(300) },
            Fault::DiskCorrupt(n("b")),
            Fault::Duplicate { ratio: Ratio::percent(20).unwrap(), duration: ms(900) },
            Fault::Reorder { ratio: Ratio::new(1, 3).unwrap(), spread: ms(15), duration: Duration::from_secs(4) },
            Fault::PartitionPrimaries { duration: ms(1200) },
            Fault::Strobe { node: n("c"), by: ms(300), period: ms(10), duration: Duration::from_secs(2) },
            Fault::CrashAfter { node: n("a"), trigger: Trigger::Send, down: ms(80) },
            Fault::CrashAfter { node: n("b"), trigger: Trigger::Receive, down: Duration::from_secs(1) },
            Fault::Recover,
        ];
        for (i, fault) in faults.into_iter().enumerate() {
            plan.push(ms(i as u64 * 333), fault);
        }
        plan
    }

    #[test]
    fn every_kind_round_trips_through_text() {
        let plan = every_kind();
        let text = plan.to_string();
        assert_eq!(text.lines().count(), plan.len());
        assert_eq!(text.parse::<FaultPlan>().unwrap(), plan, "{text}");
    }

    #[test]
    fn faults_at_one_time_keep_their_order() {
        let mut plan = FaultPlan::new();
        plan.push(Duration::from_secs(2), Fault::Recover);
        plan.push(Duration::from_secs(1), Fault::Crash("a".into()));
        plan.push(Duration::from_secs(1), Fault::Restart("a".into()));
        let kinds: Vec<&str> = plan.faults().iter().map(|t| t.fault.kind()).collect();
        assert_eq!(kinds, ["crash", "restart", "recover"]);
        assert_eq!(plan.end(), Duration::from_secs(2));
        assert_eq!(plan.without(0).len(), 2);
    }

    #[test]
    fn a_plan_from_pushes_is_the_plan_pushed_one_by_one() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..200 {
            let mut pushed = FaultPlan::new();
            let mut pushes = Vec::new();
            for i in 0..40 {
                state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                // Few distinct times, so many ties; the node's name tells the faults apart.
                let at = Duration::from_millis((state >> 60) * 100);
                pushed.push(at, Fault::Crash(format!("n{i}")));
                pushes.push(TimedFault { at, fault: Fault::Crash(format!("n{i}")) });
            }
            assert_eq!(FaultPlan::from_pushes(pushes), pushed);
        }
    }

    #[test]
    fn parse_errors_name_the_line_and_the_form() {
        let cases = [
            ("1s crash", 1, "crash NODE"),
            ("# comment\n\n2s partition a b", 3, "partition NODE,NODE | NODE,NODE"),
            ("soon crash a", 1, "a time such as 1500ms"),
            ("1s explode a", 1, "a fault kind"),
            ("1s skew a +1s drift 2000000ppm", 1, "a drift from"),
            ("1s loss-burst 150% 1s", 1, "loss-burst NUM/DEN|PERCENT% DURATION"),
            ("1s duplicate 10%", 1, "duplicate NUM/DEN|PERCENT% DURATION"),
            ("1s reorder 10% 1s", 1, "reorder NUM/DEN|PERCENT% SPREAD DURATION"),
            ("1s strobe a 1s 100us 1s", 1, "a strobe period of at least 1ms"),
            ("1s strobe a 1s 1ms 2s", 1, "at most 1000 steps"),
            ("1s crash-after-send a", 1, "crash-after-send NODE DOWN"),
            ("1s partition-primaries", 1, "partition-primaries DURATION"),
        ];
        for (text, line, expected) in cases {
            let err = text.parse::<FaultPlan>().unwrap_err();
            let message = err.to_string();
            assert!(message.contains(&format!("line {line}")), "{message}");
            assert!(message.contains(expected), "{message}");
        }
    }
}
