//! Bad input gets an error that names the input and the fix.

use std::time::Duration;

use seedsim::net::{Latency, Link};
use seedsim::time::Skew;
use seedsim::{world, ErrorKind, Policy, Ratio, Seed, Sim};

#[test]
fn bad_seed_strings() {
    for bad in ["", "0x", "0xZZ", "0x12345678901234567", "twelve", "18446744073709551616"] {
        let err = bad.parse::<Seed>().unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::InvalidSeed);
        assert!(err.to_string().contains("expected a decimal u64 or 0x followed by up to 16 hex digits"));
    }
}

#[test]
fn bad_configuration_values_name_the_setting() {
    let cases: Vec<(seedsim::Builder, &str)> = vec![
        (Sim::builder().steps_max(0), "steps_max"),
        (Sim::builder().time_limit(Duration::ZERO), "time_limit"),
        (Sim::builder().tasks_max(0), "tasks_max"),
        (Sim::builder().policy(Policy::Pct { depth: 0 }), "Policy::Pct::depth"),
        (
            Sim::builder().link(Link {
                latency: Latency::Uniform { min: Duration::from_millis(5), max: Duration::from_millis(1) },
                ..Link::default()
            }),
            "Latency",
        ),
        (Sim::builder().log("seedsim=shouty"), "log filter"),
    ];
    for (builder, field) in cases {
        let err = builder.build().unwrap_err();
        assert!(err.to_string().contains(field), "{err} should name {field}");
    }
    assert!(Ratio::new(2, 1).unwrap_err().to_string().contains("num <= den"));
    assert!(Ratio::percent(101).is_err());
    assert!(Skew::NONE.with_drift_ppm(-1_000_000).is_err());
}

#[test]
fn bad_node_names() {
    let mut sim = Sim::new(Seed(1));
    assert_eq!(sim.node("", || async {}).unwrap_err().kind(), &ErrorKind::InvalidNodeName);
    assert_eq!(sim.node("10.0.0.1", || async {}).unwrap_err().kind(), &ErrorKind::InvalidNodeName);
    sim.node("a", || async {}).unwrap();
    let err = sim.client("a", async {}).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::DuplicateNode);
    assert!(err.to_string().contains("duplicate node name \"a\""));
    for result in
        [sim.partition("a", "ghost"), sim.crash("ghost"), sim.isolate("ghost"), sim.skew_clock("ghost", Skew::NONE)]
    {
        let err = result.unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::UnknownNode);
        assert!(err.to_string().contains("unknown node \"ghost\""), "{err}");
    }
}

#[test]
fn world_functions_outside_a_simulation_return_an_error() {
    let err = world::crash("a").unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::NoSimulation);
    assert!(err.to_string().contains("seedsim::world::crash was called outside a seedsim simulation"), "{err}");
    assert_eq!(world::heal_all().unwrap_err().kind(), &ErrorKind::NoSimulation);
    assert_eq!(seedsim::net::lookup("a").unwrap_err().kind(), &ErrorKind::NoSimulation);
}
