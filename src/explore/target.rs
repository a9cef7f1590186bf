//! What a simulation target is called, and the command that runs it again: the start of
//! every replay line the target prints, writes to JSON and records in a corpus.

use std::fmt;

/// A simulation target: its binary's name and the Cargo package that builds it, which make
/// the `cargo run` command a replay line starts with.
///
/// [`explore_target!`](crate::explore_target) names the package and binary being compiled,
/// which is right wherever the target lives. A bare name (`explore::main("kv", …)`) leaves the
/// package to the run: `cargo run` tells a program its package (`CARGO_PKG_NAME`), and a
/// binary started some other way prints a line without `-p`, which is right in a crate with
/// one package.
///
/// ```
/// use seedsim::explore::Target;
/// let target = Target::new("my-store", "sim");
/// let release = if cfg!(debug_assertions) { "" } else { " --release" };
/// assert_eq!(target.command(), format!("cargo run{release} -p my-store --bin sim --"));
/// assert_eq!(target.to_string(), "sim");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    package: Option<&'static str>,
    bin: &'static str,
}

impl Target {
    /// The binary `bin` of the package `package`.
    pub const fn new(package: &'static str, bin: &'static str) -> Target {
        Target { package: Some(package), bin }
    }

    /// The binary's name: what its messages start with.
    pub fn bin(&self) -> &'static str {
        self.bin
    }

    /// The command that runs this target, up to and including the `--` before its own
    /// arguments, in the profile it was built in (`--release` for an optimized build): a seed
    /// replays in the build that found it.
    pub fn command(&self) -> String {
        // Read when a line is written, outside any run: `cargo run` sets it for the program.
        let runtime = || std::env::var("CARGO_PKG_NAME").ok().filter(|name| !name.is_empty());
        let release = if cfg!(debug_assertions) { "" } else { " --release" };
        match self.package.map(str::to_owned).or_else(runtime) {
            Some(package) => format!("cargo run{release} -p {package} --bin {} --", self.bin),
            None => format!("cargo run{release} --bin {} --", self.bin),
        }
    }
}

impl From<&'static str> for Target {
    /// A target named by its binary alone; the package is what `cargo run` says it is.
    fn from(bin: &'static str) -> Target {
        Target { package: None, bin }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.bin)
    }
}

/// The [`Target`] being compiled: this package and this binary (`CARGO_PKG_NAME` and
/// `CARGO_BIN_NAME` at compile time), so its replay lines are right in any crate.
///
/// ```ignore
/// fn main() -> std::process::ExitCode {
///     seedsim::explore::main(seedsim::explore_target!(), &[/* scenarios */])
/// }
/// ```
#[macro_export]
macro_rules! explore_target {
    () => {
        $crate::explore::Target::new(env!("CARGO_PKG_NAME"), env!("CARGO_BIN_NAME"))
    };
}
