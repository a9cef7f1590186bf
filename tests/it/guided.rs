//! Guided exploration: behaviour feedback is deterministic and sees what a run did, mutated
//! fault plans stay valid, and a guide is a function of its start seed that keeps the runs
//! that reached new behaviour.

use std::collections::BTreeSet;
use std::io;
use std::time::Duration;

use seedsim::fault::{Fault, FaultPlan, Mutation, Mutator, Nemesis, Profile};
use seedsim::feedback::Feedback;
use seedsim::guide::{Guide, Origin};
use seedsim::net::UdpSocket;
use seedsim::time::{interval, sleep, timeout};
use seedsim::{Error, ErrorKind, Seed, Sim};

const SERVERS: [&str; 3] = ["a", "b", "c"];

/// Three servers that send each other heartbeats (of two sizes) every 50 ms, and a client
/// that waits three seconds: cheap runs whose behaviour faults change.
fn cluster(sim: &mut Sim) -> Result<(), Error> {
    for (index, name) in SERVERS.iter().enumerate() {
        sim.node(name, move || async move {
            let socket = UdpSocket::bind("0.0.0.0:6000").await?;
            let mut buf = [0u8; 64];
            let mut beat = interval(Duration::from_millis(50));
            for round in 0u64.. {
                beat.tick().await;
                for peer in SERVERS.iter().filter(|peer| **peer != SERVERS[index]) {
                    let len = if round % 4 == 0 { 40 } else { 8 };
                    socket.send_to(&[index as u8; 64][..len], (*peer, 6000)).await?;
                }
                // Take what has arrived, without waiting past the next beat.
                while let Ok(received) = timeout(Duration::from_millis(1), socket.recv_from(&mut buf)).await {
                    received?;
                }
            }
            Ok::<(), io::Error>(())
        })?;
    }
    sim.client("client", async {
        sleep(Duration::from_secs(3)).await;
        Ok::<(), io::Error>(())
    })?;
    Ok(())
}

fn profile() -> Profile {
    Profile::chaos().duration(Duration::from_secs(2))
}

/// A run of the cluster: the swarm profile's plan for the seed, or exactly `plan`.
fn build(seed: Seed, plan: Option<&FaultPlan>) -> Result<Sim, Error> {
    let mut sim = Sim::builder().seed(seed).feedback(true).build()?;
    cluster(&mut sim)?;
    match plan {
        Some(plan) => sim.faults(plan.clone())?,
        None => drop(sim.nemesis(Profile::swarm(profile(), seed))?),
    }
    Ok(sim)
}

#[test]
fn feedback_is_the_same_for_the_same_seed_and_changes_nothing_else() {
    let run = |seed| build(Seed(seed), None).unwrap().run();
    let (first, again, other) = (run(3), run(3), run(4));
    assert!(first.feedback().len() > 10, "{:?}", first.feedback());
    assert_eq!(first.feedback(), again.feedback(), "the same seed reaches the same features");
    assert_ne!(first.feedback(), other.feedback(), "another seed, other faults, other features");
    // Off by default: no features, and the very same run.
    let mut plain = Sim::builder().seed(Seed(3)).build().unwrap();
    cluster(&mut plain).unwrap();
    plain.nemesis(Profile::swarm(profile(), Seed(3))).unwrap();
    let plain = plain.run();
    assert!(plain.feedback().is_empty());
    assert_eq!(plain.trace_hash(), first.trace_hash(), "collecting feedback does not change the run");
}

#[test]
fn feedback_sees_a_fault_and_the_state_it_hit() {
    let run = |plan: &str| build(Seed(1), Some(&plan.parse().unwrap())).unwrap().run();
    let calm: BTreeSet<u32> = run("2s recover").feedback().features().iter().copied().collect();
    let crashed: BTreeSet<u32> = run("1s bounce b 300ms\n2s recover").feedback().features().iter().copied().collect();
    assert!(!crashed.is_subset(&calm), "a crash and a restart are behaviour a calm run lacks");
    // Assertions count too: one that held is a feature, one that failed another.
    let assertions = |held: bool| {
        let mut sim = Sim::builder().seed(Seed(1)).feedback(true).build().unwrap();
        sim.client("c", async move {
            seedsim::assert_sometimes!(held, "the rare state");
            Ok::<(), io::Error>(())
        })
        .unwrap();
        sim.run().unwrap().feedback
    };
    assert_ne!(assertions(true), assertions(false));
    // The features of marked points are told apart from the events' bigrams.
    assert!(assertions(true).features().iter().any(|&f| Feedback::is_marked(f)));
    assert!(crashed.iter().all(|&f| !Feedback::is_marked(f) && f < Feedback::SPACE));
}

/// The most servers down (bounced, crashed after a message, or paused) at one instant.
fn down_max(plan: &FaultPlan) -> usize {
    let mut spans: Vec<(String, Duration, Duration)> = Vec::new();
    for (i, timed) in plan.faults().iter().enumerate() {
        match &timed.fault {
            Fault::Bounce { node, down } | Fault::CrashAfter { node, down, .. } => {
                spans.push((node.clone(), timed.at, timed.at + *down))
            }
            Fault::Pause(node) => {
                let until = plan.faults()[i + 1..]
                    .iter()
                    .find(|t| t.fault == Fault::Resume(node.clone()) || t.fault == Fault::Recover)
                    .map_or(Duration::MAX, |t| t.at);
                spans.push((node.clone(), timed.at, until));
            }
            _ => {}
        }
    }
    spans
        .iter()
        .map(|(_, at, _)| {
            spans.iter().filter(|(_, from, to)| from <= at && at < to).map(|s| &s.0).collect::<BTreeSet<_>>().len()
        })
        .max()
        .unwrap_or(0)
}

#[test]
fn every_mutation_keeps_a_nemesis_plan_valid() {
    let servers: Vec<String> = SERVERS.iter().map(|s| s.to_string()).collect();
    let nodes: Vec<String> = servers.iter().cloned().chain(["client".to_owned()]).collect();
    let nemesis = Nemesis::new(profile());
    let mut mutator = Mutator::new(Seed(11));
    let mut applied = [0usize; Mutation::ALL.len()];
    for seed in 0..40 {
        let parent = nemesis.plan(Seed(seed), &servers, &nodes);
        let donor = nemesis.plan(Seed(seed + 1_000), &servers, &nodes);
        let recover = parent.faults().last().unwrap().clone();
        assert_eq!(recover.fault, Fault::Recover);
        for (index, mutation) in Mutation::ALL.into_iter().enumerate() {
            let Some(child) = mutator.apply(mutation, &parent, Some(&donor)) else { continue };
            applied[index] += 1;
            assert_eq!(child.faults().last(), Some(&recover), "{mutation:?} keeps the final recover\n{child}");
            let (body, _) = child.faults().split_at(child.len() - 1);
            assert!(body.iter().all(|t| t.at < recover.at && t.fault != Fault::Recover), "{mutation:?}\n{child}");
            assert_eq!(child.to_string().parse::<FaultPlan>().unwrap(), child, "{mutation:?} parses back");
            assert!(down_max(&child) <= down_max(&parent).max(down_max(&donor)).max(1), "{mutation:?}\n{child}");
            // Its names are the scenario's: it installs.
            build(Seed(seed), Some(&child)).unwrap();
        }
    }
    for (mutation, count) in Mutation::ALL.iter().zip(applied) {
        assert!(count >= 20, "{mutation:?} applied to only {count} of 40 plans");
    }
    // Without a donor, only the mutations that need none; an empty plan has nothing to change.
    let parent = nemesis.plan(Seed(1), &servers, &nodes);
    for _ in 0..50 {
        let (_, mutation) = mutator.mutate(&parent, None).unwrap();
        assert!(!mutation.needs_donor());
    }
    assert_eq!(mutator.mutate(&FaultPlan::new(), None), None);
}

#[test]
fn the_guide_hands_out_the_same_trials_for_the_same_start_seed() {
    let trials = |start| {
        let mut guide = Guide::new(Seed(start));
        let trials: Vec<_> = (0..96).map(|_| guide.run(build).unwrap().0).collect();
        (trials, guide.corpus().to_vec(), guide.stats())
    };
    let (first, corpus, stats) = trials(9);
    let (again, corpus_again, _) = trials(9);
    assert_eq!(first, again);
    assert_eq!(corpus, corpus_again);
    assert!(stats.mutants > 0 && stats.fresh > 0, "{stats:?}");
    let (other, _, _) = trials(10);
    assert_ne!(first, other, "another start seed, other trials");
    // Fresh trials run the seeds plain exploration runs from the same start.
    let fresh: Vec<Seed> = first.iter().filter(|t| t.origin == Origin::Fresh).map(|t| t.seed).collect();
    let expected: Vec<Seed> = (0..fresh.len() as u64).map(|i| Seed(9).nth(i)).collect();
    assert_eq!(fresh, expected);
    // A mutant names its parent, an entry of the corpus, and runs a plan.
    for trial in &first {
        if let Origin::Mutant { parent, .. } = &trial.origin {
            assert!(first.iter().any(|t| t.number == *parent), "{parent}");
            assert!(trial.plan.is_some());
        }
    }
}

#[test]
fn a_run_that_reaches_new_features_joins_the_corpus_and_a_repeat_does_not() {
    let mut guide = Guide::new(Seed(5));
    let trial = guide.next();
    let outcome = build(trial.seed, trial.plan.as_ref()).unwrap().run();
    let new = guide.observe(&trial, &outcome);
    assert_eq!(new, outcome.feedback().len(), "the first run's features are all new");
    assert_eq!(guide.corpus().len(), 1);
    let entry = &guide.corpus()[0];
    assert_eq!((entry.id, entry.seed, &entry.plan), (trial.number, trial.seed, outcome.faults()));
    assert_eq!(guide.stats().features, new as u64);
    // The same behaviour again is nothing new.
    assert_eq!(guide.observe(&trial, &outcome), 0);
    assert_eq!(guide.corpus().len(), 1);
    // A failing run is a finding, not a corpus entry, however new its behaviour.
    let mut failing = Sim::builder().seed(Seed(1)).feedback(true).build().unwrap();
    failing
        .client("c", async {
            seedsim::assert_sometimes!(true, "something only this run does");
            Err::<(), _>(io::Error::other("fails"))
        })
        .unwrap();
    let failed = failing.run();
    assert!(!failed.is_passed() && !failed.feedback().is_empty());
    let next = guide.next();
    assert_eq!(guide.observe(&next, &failed), 0);
    assert_eq!(guide.corpus().len(), 1);
    // A run with features the corpus lacks joins it.
    let next = guide.next();
    let other = build(Seed(77), Some(&"500ms isolate c\n1s rejoin c\n2s recover".parse().unwrap())).unwrap().run();
    assert!(guide.observe(&next, &other) > 0);
    assert_eq!(guide.corpus().len(), 2);
    assert!(guide.growth().first().is_some_and(|&(runs, features)| runs == 1 && features == new as u64));
}

#[test]
fn a_guided_run_needs_feedback_on() {
    let mut guide = Guide::new(Seed(1));
    let err = guide
        .run(|seed, _| {
            let mut sim = Sim::builder().seed(seed).build()?;
            cluster(&mut sim)?;
            Ok(sim)
        })
        .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::InvalidConfig { field: "feedback", .. }), "{err}");
}
