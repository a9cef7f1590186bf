//! The text form of faults and plans: one fault a line, `<time> <kind> <arguments>`.
//!
//! ```text
//! # seedsim fault plan
//! 1500ms crash db1
//! 2s     restart db1
//! 3s     partition db1,db2 | db3
//! 4s     clog db1 db2 200ms
//! 5s     skew db2 +500ms drift 100ppm
//! 6s     loss-burst 30/100 2s
//! 9s     recover
//! ```
//!
//! Durations are whole numbers (or decimals) with a unit: `ns`, `us`, `ms`, `s`, `m`, `h`.
//! Writing a plan and parsing it back gives the same plan; parse errors name the line.

use std::fmt;
use std::time::Duration;

use super::{Fault, Trigger};
use crate::error::{Error, ErrorKind};
use crate::rand::Ratio;
use crate::time::Skew;

const UNITS: [(&str, u128); 6] = [
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
];

/// A duration in the largest unit that divides it exactly (`1500ms`, `2s`, `0s`), or, when no
/// unit from milliseconds up does and it is a millisecond or more, in seconds with the
/// decimals it needs (`0.032528969s` rather than `32528969ns`, as the trace prints times).
pub(crate) fn write_duration(f: &mut fmt::Formatter<'_>, duration: Duration) -> fmt::Result {
    let nanos = duration.as_nanos();
    if nanos == 0 {
        return f.write_str("0s");
    }
    if nanos >= 1_000_000 && nanos % 1_000_000 != 0 {
        let fraction = format!("{:09}", nanos % 1_000_000_000);
        return write!(f, "{}.{}s", nanos / 1_000_000_000, fraction.trim_end_matches('0'));
    }
    let (unit, size) = UNITS.iter().find(|(_, size)| nanos % size == 0).expect("ns divides everything");
    write!(f, "{}{unit}", nanos / size)
}

struct Signed(i64);

impl fmt::Display for Signed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0 < 0 { "-" } else { "+" })?;
        write_duration(f, Duration::from_nanos(self.0.unsigned_abs()))
    }
}

struct Dur(Duration);

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_duration(f, self.0)
    }
}

pub(crate) fn write_fault(f: &mut fmt::Formatter<'_>, fault: &Fault) -> fmt::Result {
    let kind = fault.kind();
    match fault {
        Fault::Crash(n)
        | Fault::Restart(n)
        | Fault::Pause(n)
        | Fault::Resume(n)
        | Fault::Isolate(n)
        | Fault::Rejoin(n) => {
            write!(f, "{kind} {n}")
        }
        Fault::Bounce { node, down } => write!(f, "{kind} {node} {}", Dur(*down)),
        Fault::Partition { a, b } | Fault::Repair { a, b } => write!(f, "{kind} {} | {}", a.join(","), b.join(",")),
        Fault::PartitionOneWay { from, to } => write!(f, "{kind} {} -> {}", from.join(","), to.join(",")),
        Fault::Clog { a, b, duration } => write!(f, "{kind} {a} {b} {}", Dur(*duration)),
        Fault::HealAll | Fault::Recover => f.write_str(kind),
        Fault::Skew { node, skew } => {
            write!(f, "{kind} {node} {}", Signed(skew.offset_nanos()))?;
            if skew.drift_ppm() != 0 {
                write!(f, " drift {}ppm", skew.drift_ppm())?;
            }
            Ok(())
        }
        Fault::Jump { node, by_nanos } => write!(f, "{kind} {node} {}", Signed(*by_nanos)),
        Fault::LossBurst { loss, duration } => write!(f, "{kind} {loss} {}", Dur(*duration)),
        Fault::LatencySpike { extra, duration } => write!(f, "{kind} {} {}", Dur(*extra), Dur(*duration)),
        Fault::DiskErrors { node, ratio, duration } | Fault::DiskMisdirect { node, ratio, duration } => {
            write!(f, "{kind} {node} {ratio} {}", Dur(*duration))
        }
        Fault::DiskFull { node, duration } => write!(f, "{kind} {node} {}", Dur(*duration)),
        Fault::DiskSlow { node, extra, duration } => write!(f, "{kind} {node} {} {}", Dur(*extra), Dur(*duration)),
        Fault::DiskCorrupt(node) => write!(f, "{kind} {node}"),
        Fault::Duplicate { ratio, duration } => write!(f, "{kind} {ratio} {}", Dur(*duration)),
        Fault::Reorder { ratio, spread, duration } => write!(f, "{kind} {ratio} {} {}", Dur(*spread), Dur(*duration)),
        Fault::PartitionPrimaries { duration } => write!(f, "{kind} {}", Dur(*duration)),
        Fault::Strobe { node, by, period, duration } => {
            write!(f, "{kind} {node} {} {} {}", Dur(*by), Dur(*period), Dur(*duration))
        }
        Fault::CrashAfter { node, down, .. } => write!(f, "{kind} {node} {}", Dur(*down)),
    }
}

/// A parse error on one line of a plan.
pub(crate) fn invalid(line: usize, text: &str, expected: &'static str) -> Error {
    Error::new(ErrorKind::InvalidFaultPlan { line, expected }, text)
}

/// Parse `1500ms`, `2s`, `1.5s`, `0s`.
pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let size = UNITS.iter().find(|(u, _)| *u == unit)?.1;
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut nanos = whole.parse::<u128>().ok()?.checked_mul(size)?;
    let mut scale = size;
    for digit in fraction.bytes() {
        if scale % 10 != 0 {
            return None; // more decimals than nanoseconds
        }
        scale /= 10;
        nanos = nanos.checked_add(u128::from(digit - b'0') * scale)?;
    }
    u64::try_from(nanos).ok().map(Duration::from_nanos)
}

fn parse_signed(text: &str) -> Option<i64> {
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => (1, text),
    };
    i64::try_from(parse_duration(rest)?.as_nanos()).ok().map(|n| sign * n)
}

fn parse_ratio(text: &str) -> Option<Ratio> {
    if let Some(percent) = text.strip_suffix('%') {
        return Ratio::percent(percent.parse().ok()?).ok();
    }
    let (num, den) = text.split_once('/')?;
    Ratio::new(num.parse().ok()?, den.parse().ok()?).ok()
}

fn parse_set(text: &str) -> Option<Vec<String>> {
    let names: Vec<String> = text.split(',').map(|n| n.trim().to_owned()).collect();
    names.iter().all(|n| !n.is_empty() && !n.contains(char::is_whitespace)).then_some(names)
}

/// Parse one fault (a line without its time).
pub(crate) fn parse_fault(line: usize, text: &str) -> Result<Fault, Error> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let bad = |expected| invalid(line, text, expected);
    let Some((&kind, args)) = words.split_first() else { return Err(bad("a fault after the time")) };
    let one_node = |expected| match args {
        [node] => Ok(node.to_string()),
        _ => Err(bad(expected)),
    };
    let two_sets = |separator: &str, expected| {
        let rest = text[kind.len()..].trim();
        let (left, right) = rest.split_once(separator).ok_or_else(|| bad(expected))?;
        match (parse_set(left.trim()), parse_set(right.trim())) {
            (Some(a), Some(b)) => Ok((a, b)),
            _ => Err(bad(expected)),
        }
    };
    let duration = |word: &str, expected| parse_duration(word).ok_or_else(|| bad(expected));
    Ok(match kind {
        "crash" => Fault::Crash(one_node("crash NODE")?),
        "restart" => Fault::Restart(one_node("restart NODE")?),
        "pause" => Fault::Pause(one_node("pause NODE")?),
        "resume" => Fault::Resume(one_node("resume NODE")?),
        "isolate" => Fault::Isolate(one_node("isolate NODE")?),
        "rejoin" => Fault::Rejoin(one_node("rejoin NODE")?),
        "bounce" => match args {
            [node, down] => Fault::Bounce { node: node.to_string(), down: duration(down, "bounce NODE DURATION")? },
            _ => return Err(bad("bounce NODE DURATION")),
        },
        "partition" => {
            let (a, b) = two_sets("|", "partition NODE,NODE | NODE,NODE")?;
            Fault::Partition { a, b }
        }
        "repair" => {
            let (a, b) = two_sets("|", "repair NODE,NODE | NODE,NODE")?;
            Fault::Repair { a, b }
        }
        "partition-oneway" => {
            let (from, to) = two_sets("->", "partition-oneway NODE,NODE -> NODE,NODE")?;
            Fault::PartitionOneWay { from, to }
        }
        "clog" => match args {
            [a, b, d] => {
                Fault::Clog { a: a.to_string(), b: b.to_string(), duration: duration(d, "clog NODE NODE DURATION")? }
            }
            _ => return Err(bad("clog NODE NODE DURATION")),
        },
        "heal-all" if args.is_empty() => Fault::HealAll,
        "recover" if args.is_empty() => Fault::Recover,
        "skew" => {
            let expected = "skew NODE +OFFSET [drift PPMppm]";
            let (node, offset, drift) = match args {
                [node, offset] => (node, offset, 0),
                [node, offset, "drift", ppm] => {
                    let ppm =
                        ppm.strip_suffix("ppm").and_then(|p| p.parse::<i32>().ok()).ok_or_else(|| bad(expected))?;
                    (node, offset, ppm)
                }
                _ => return Err(bad(expected)),
            };
            let offset = parse_signed(offset).ok_or_else(|| bad(expected))?;
            let skew = if offset < 0 {
                Skew::behind(Duration::from_nanos(offset.unsigned_abs()))
            } else {
                Skew::ahead(Duration::from_nanos(offset as u64))
            };
            let skew = skew.with_drift_ppm(drift).map_err(|_| bad("a drift from -999999ppm to 1000000ppm"))?;
            Fault::Skew { node: node.to_string(), skew }
        }
        "jump" => match args {
            [node, by] => Fault::Jump {
                node: node.to_string(),
                by_nanos: parse_signed(by).ok_or_else(|| bad("jump NODE +DURATION"))?,
            },
            _ => return Err(bad("jump NODE +DURATION")),
        },
        "loss-burst" => match args {
            [ratio, d] => Fault::LossBurst {
                loss: parse_ratio(ratio).ok_or_else(|| bad("loss-burst NUM/DEN|PERCENT% DURATION"))?,
                duration: duration(d, "loss-burst NUM/DEN|PERCENT% DURATION")?,
            },
            _ => return Err(bad("loss-burst NUM/DEN|PERCENT% DURATION")),
        },
        "latency-spike" => match args {
            [extra, d] => Fault::LatencySpike {
                extra: duration(extra, "latency-spike EXTRA DURATION")?,
                duration: duration(d, "latency-spike EXTRA DURATION")?,
            },
            _ => return Err(bad("latency-spike EXTRA DURATION")),
        },
        "disk-errors" | "disk-misdirect" => {
            let expected = if kind == "disk-errors" {
                "disk-errors NODE NUM/DEN|PERCENT% DURATION"
            } else {
                "disk-misdirect NODE NUM/DEN|PERCENT% DURATION"
            };
            let [node, ratio, d] = args else { return Err(bad(expected)) };
            let (node, ratio, duration) =
                (node.to_string(), parse_ratio(ratio).ok_or_else(|| bad(expected))?, duration(d, expected)?);
            if kind == "disk-errors" {
                Fault::DiskErrors { node, ratio, duration }
            } else {
                Fault::DiskMisdirect { node, ratio, duration }
            }
        }
        "disk-full" => match args {
            [node, d] => Fault::DiskFull { node: node.to_string(), duration: duration(d, "disk-full NODE DURATION")? },
            _ => return Err(bad("disk-full NODE DURATION")),
        },
        "disk-slow" => match args {
            [node, extra, d] => Fault::DiskSlow {
                node: node.to_string(),
                extra: duration(extra, "disk-slow NODE EXTRA DURATION")?,
                duration: duration(d, "disk-slow NODE EXTRA DURATION")?,
            },
            _ => return Err(bad("disk-slow NODE EXTRA DURATION")),
        },
        "disk-corrupt" => Fault::DiskCorrupt(one_node("disk-corrupt NODE")?),
        "duplicate" => {
            let expected = "duplicate NUM/DEN|PERCENT% DURATION";
            match args {
                [ratio, d] => Fault::Duplicate {
                    ratio: parse_ratio(ratio).ok_or_else(|| bad(expected))?,
                    duration: duration(d, expected)?,
                },
                _ => return Err(bad(expected)),
            }
        }
        "reorder" => {
            let expected = "reorder NUM/DEN|PERCENT% SPREAD DURATION";
            match args {
                [ratio, spread, d] => Fault::Reorder {
                    ratio: parse_ratio(ratio).ok_or_else(|| bad(expected))?,
                    spread: duration(spread, expected)?,
                    duration: duration(d, expected)?,
                },
                _ => return Err(bad(expected)),
            }
        }
        "partition-primaries" => match args {
            [d] => Fault::PartitionPrimaries { duration: duration(d, "partition-primaries DURATION")? },
            _ => return Err(bad("partition-primaries DURATION")),
        },
        "strobe" => {
            let expected = "strobe NODE STEP PERIOD DURATION";
            let [node, by, period, d] = args else { return Err(bad(expected)) };
            let fault = Fault::Strobe {
                node: node.to_string(),
                by: duration(by, expected)?,
                period: duration(period, expected)?,
                duration: duration(d, expected)?,
            };
            if let Some(expected) = fault.invalid() {
                return Err(bad(expected));
            }
            fault
        }
        "crash-after-send" | "crash-after-receive" => {
            let (trigger, expected) = if kind == "crash-after-send" {
                (Trigger::Send, "crash-after-send NODE DOWN")
            } else {
                (Trigger::Receive, "crash-after-receive NODE DOWN")
            };
            match args {
                [node, down] => Fault::CrashAfter { node: node.to_string(), trigger, down: duration(down, expected)? },
                _ => return Err(bad(expected)),
            }
        }
        _ => {
            return Err(bad(
                "a fault kind: crash, restart, bounce, crash-after-send, crash-after-receive, pause, resume, \
                 partition, partition-oneway, partition-primaries, repair, isolate, rejoin, clog, heal-all, \
                 duplicate, reorder, skew, jump, strobe, loss-burst, latency-spike, disk-errors, disk-misdirect, \
                 disk-full, disk-slow, disk-corrupt or recover",
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print_exactly() {
        for (text, nanos) in
            [("0s", 0), ("1500ms", 1_500_000_000), ("1.5s", 1_500_000_000), ("2h", 7_200_000_000_000), ("7ns", 7)]
        {
            assert_eq!(parse_duration(text), Some(Duration::from_nanos(nanos)), "{text}");
        }
        for bad in ["", "s", "1", "1x", "-1s", "1.0000000001s", "1.5.5s"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        assert_eq!(Dur(Duration::from_millis(1500)).to_string(), "1500ms");
        assert_eq!(Dur(Duration::from_nanos(32_528_969)).to_string(), "0.032528969s");
        assert_eq!(Dur(Duration::from_nanos(12_000_350_000)).to_string(), "12.00035s");
        assert_eq!(Dur(Duration::from_nanos(999_999)).to_string(), "999999ns");
        for nanos in [32_528_969u64, 12_000_350_000, 1_000_001, 999_999, 7, 86_400_000_000_123] {
            let text = Dur(Duration::from_nanos(nanos)).to_string();
            assert_eq!(parse_duration(&text), Some(Duration::from_nanos(nanos)), "{text} reads back");
        }
        assert_eq!(Dur(Duration::from_secs(120)).to_string(), "2m");
        assert_eq!(Signed(-1_000_000_000).to_string(), "-1s");
    }
}
