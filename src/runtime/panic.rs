//! Capturing panics of node and client tasks as failures of the run.
//!
//! A process-wide panic hook is installed once. While a simulation is running on the
//! panicking thread it records the message and location for the report instead of printing
//! them (the report prints them, with the replay line); everywhere else it defers to the hook
//! that was there before.

use std::any::Any;
use std::cell::RefCell;
use std::panic;
use std::sync::Once;

use crate::context;

thread_local! {
    static LAST_PANIC: RefCell<Option<(String, Option<String>)>> = const { RefCell::new(None) };
}

static INSTALL: Once = Once::new();

pub(crate) fn install_hook() {
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if context::is_running() {
                let message = payload_message(info.payload());
                let location = info.location().map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
                LAST_PANIC.with(|last| *last.borrow_mut() = Some((message, location)));
            } else {
                previous(info);
            }
        }));
    });
}

/// The message and location of the panic just caught on this thread.
pub(crate) fn take_last(payload: &(dyn Any + Send)) -> (String, Option<String>) {
    LAST_PANIC.with(|last| last.borrow_mut().take()).unwrap_or_else(|| (payload_message(payload), None))
}

fn payload_message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&'static str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "Box<dyn Any> (a panic payload that is not a string)".to_owned()
    }
}
