//! How far a long command has gone (`ledger check`, `audit verify`, `export` on years of
//! history), shown on standard error while it runs, and only when standard error is a
//! terminal: one line redrawn in place at most a few times a second, wiped when done, so
//! a script or a log reading the output sees exactly what it saw before. Nothing here
//! touches the data; the commands pass a [`Progress`] down and call it as rows go by.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often the line is redrawn at most.
const REDRAW: Duration = Duration::from_millis(200);

/// What is counted: things (events, transfers) or bytes written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count(&'static str),
    Bytes,
}

#[derive(Debug)]
struct State {
    step: String,
    done: u64,
    total: Option<u64>,
    drawn: Option<Instant>,
    width: usize,
}

/// A progress line for one command (see the module's documentation).
#[derive(Debug)]
pub struct Progress {
    shown: bool,
    what: &'static str,
    unit: Unit,
    started: Instant,
    state: Mutex<State>,
}

impl Progress {
    /// A line on standard error when it is a terminal, else nothing.
    pub fn terminal(what: &'static str, unit: Unit) -> Progress {
        Progress::new(std::io::stderr().is_terminal(), what, unit)
    }

    /// Never shown: for callers that are not a person at a terminal (the server, tests).
    pub fn hidden() -> Progress {
        Progress::new(false, "", Unit::Count(""))
    }

    fn new(shown: bool, what: &'static str, unit: Unit) -> Progress {
        Progress {
            shown,
            what,
            unit,
            started: Instant::now(),
            state: Mutex::new(State {
                step: String::new(),
                done: 0,
                total: None,
                drawn: None,
                width: 0,
            }),
        }
    }

    /// How many there will be, when known (a percentage is shown then).
    pub fn set_total(&self, total: u64) {
        self.update(|s| s.total = Some(total), false);
    }

    /// Names the part of the work now under way (`summing the accounts`).
    pub fn step(&self, step: &str) {
        self.update(|s| s.step = step.to_string(), true);
    }

    /// `n` more done.
    pub fn advance(&self, n: u64) {
        self.update(|s| s.done += n, false);
    }

    /// Wipes the line: the command's own output follows on a clean line.
    pub fn finish(&self) {
        if !self.shown {
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.width > 0 {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r{:width$}\r", "", width = state.width);
            let _ = err.flush();
            state.width = 0;
        }
    }

    fn update(&self, change: impl FnOnce(&mut State), now: bool) {
        if !self.shown {
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        change(&mut state);
        let due = state.drawn.is_none_or(|at| at.elapsed() >= REDRAW);
        if !(now || due) {
            return;
        }
        state.drawn = Some(Instant::now());
        let line = self.line(&state);
        let pad = state.width.saturating_sub(line.chars().count());
        state.width = line.chars().count();
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{line}{:pad$}", "");
        let _ = err.flush();
    }

    fn line(&self, state: &State) -> String {
        let seconds = self.started.elapsed().as_secs_f64();
        let amount = |n: u64| match self.unit {
            Unit::Count(_) => n.to_string(),
            Unit::Bytes => format!("{:.1} MiB", n as f64 / (1 << 20) as f64),
        };
        let mut line = self.what.to_string();
        if !state.step.is_empty() {
            line.push_str(": ");
            line.push_str(&state.step);
        }
        if state.done > 0 || state.total.is_some() {
            line.push_str(", ");
            line.push_str(&amount(state.done));
            if let Some(total) = state.total {
                line.push_str(&format!(" of {}", amount(total)));
            }
            if let Unit::Count(unit) = self.unit {
                line.push(' ');
                line.push_str(unit);
            }
            if let Some(total) = state.total.filter(|t| *t > 0) {
                line.push_str(&format!(
                    " ({:.0} %)",
                    (state.done as f64 * 100.0 / total as f64).min(100.0)
                ));
            }
        }
        line.push_str(&format!(", {seconds:.0} s"));
        line
    }
}

/// A command that fails half-way leaves no half-drawn line before its error.
impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_says_what_how_far_and_since_when() {
        let p = Progress::new(false, "audit verify", Unit::Count("events"));
        {
            let mut s = p.state.lock().unwrap();
            s.step = "hashing the chain".into();
            s.done = 250;
            s.total = Some(1_000);
        }
        let line = p.line(&p.state.lock().unwrap());
        assert!(
            line.starts_with("audit verify: hashing the chain, 250 of 1000 events (25 %), "),
            "{line}"
        );
        let bytes = Progress::new(false, "export", Unit::Bytes);
        bytes.state.lock().unwrap().done = 3 << 20;
        let line = bytes.line(&bytes.state.lock().unwrap());
        assert!(line.starts_with("export, 3.0 MiB, "), "{line}");
    }

    #[test]
    fn a_hidden_progress_draws_nothing_and_keeps_nothing() {
        let p = Progress::hidden();
        p.set_total(10);
        p.step("anything");
        p.advance(5);
        p.finish();
        let s = p.state.lock().unwrap();
        assert_eq!((s.done, s.total, s.width), (0, None, 0));
    }
}
