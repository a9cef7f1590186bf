//! `SEEDSIM_BENCH_QUICK`, read the same way by every benchmark that has a smoke mode.

/// Whether `SEEDSIM_BENCH_QUICK=1` asks for a smoke run. Unset, empty or `0` is a full run;
/// any other value ends the benchmark with exit code 2 and a message naming the variable.
pub fn quick() -> bool {
    match std::env::var("SEEDSIM_BENCH_QUICK").as_deref() {
        Err(_) | Ok("" | "0") => false,
        Ok("1") => true,
        Ok(other) => {
            eprintln!("invalid SEEDSIM_BENCH_QUICK={other:?}: expected 0 or 1");
            std::process::exit(2);
        }
    }
}
