//! Stopping on SIGTERM and SIGINT (`systemctl stop`, Ctrl-C): the
//! long-running commands end their work, close the database cleanly and exit
//! 0 instead of being ended by the signal.
//!
//! [`listen`] blocks both signals in the calling thread, so in every thread
//! spawned after it, and starts one thread that waits for them with
//! `sigwait`: no code runs in a signal handler. When one arrives the thread
//! sets the process-wide flag ([`requested`]), runs the wake-ups registered
//! with [`on_request`] (the monitor's wait, the systemd `STOPPING=1`), and
//! gives the main thread [`GRACE`] to stop on its own and call [`finish`].
//! If it has not by then (a Cablecast request is still waiting for its
//! answer), the signal thread runs the closing steps itself (set with
//! [`closing_steps`]: commit, checkpoint, one log line) and exits 0,
//! abandoning the requests still in flight. Either way the closing steps run
//! once.
//!
//! What this is not: no handler for other signals (SIGKILL cannot be
//! caught; SIGHUP keeps its default).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// How long the main thread has, after the signal, to stop on its own
/// before the signal thread closes the database and exits for it. Short
/// enough for "a few seconds" under `systemctl stop`, long enough for a
/// status page answer or a batch commit to finish.
pub const GRACE: Duration = Duration::from_secs(3);

type Step = Box<dyn FnOnce() + Send>;

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// The process's stop state, shared by the signal thread and the rest.
struct State {
    /// The signal's name once one arrived.
    signal: Option<&'static str>,
    wakers: Vec<Step>,
    /// The closing steps, until someone runs them.
    closing: Option<Step>,
    /// Someone (main thread or signal thread) began the closing steps.
    closed: bool,
}

fn state() -> &'static (Mutex<State>, Condvar) {
    static STATE: OnceLock<(Mutex<State>, Condvar)> = OnceLock::new();
    STATE.get_or_init(|| {
        (
            Mutex::new(State {
                signal: None,
                wakers: Vec::new(),
                closing: None,
                closed: false,
            }),
            Condvar::new(),
        )
    })
}

fn lock() -> MutexGuard<'static, State> {
    state().0.lock().unwrap_or_else(|p| p.into_inner())
}

/// Blocks SIGTERM and SIGINT in this thread (and so in every thread spawned
/// after it) and starts the thread that waits for them. Call it before any
/// other thread starts; calling it again does nothing.
pub fn listen() -> std::io::Result<()> {
    static LISTENING: AtomicBool = AtomicBool::new(false);
    if LISTENING.swap(true, Ordering::SeqCst) {
        return Ok(());
    }
    let set = stop_signals();
    // SAFETY: `set` is an initialised signal set; a null old set is allowed.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(std::io::Error::from_raw_os_error(rc));
    }
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || wait_for_signal(set))?;
    Ok(())
}

/// SIGTERM and SIGINT.
fn stop_signals() -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the set before sigaddset reads it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        set
    }
}

fn wait_for_signal(set: libc::sigset_t) {
    let mut number: libc::c_int = 0;
    loop {
        // SAFETY: both pointers are valid for the call.
        if unsafe { libc::sigwait(&set, &mut number) } == 0 {
            break;
        }
    }
    let name = if number == libc::SIGINT {
        "SIGINT"
    } else {
        "SIGTERM"
    };
    request(name);
    // The main thread stops on its own within the grace period, or is
    // stuck waiting for an answer that is abandoned now.
    let deadline = Instant::now() + GRACE;
    let condvar = &state().1;
    let mut guard = lock();
    while !guard.closed {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        guard = condvar
            .wait_timeout(guard, left)
            .unwrap_or_else(|p| p.into_inner())
            .0;
    }
    if guard.closed {
        return;
    }
    guard.closed = true;
    let closing = guard.closing.take();
    drop(guard);
    if let Some(closing) = closing {
        closing();
    }
    std::process::exit(0);
}

/// Marks the process as stopping (as a signal does) and runs the wake-ups.
/// The signal thread calls it; tests of the library may too.
pub fn request(signal: &'static str) {
    let wakers = {
        let mut guard = lock();
        if guard.signal.is_some() {
            return;
        }
        guard.signal = Some(signal);
        REQUESTED.store(true, Ordering::SeqCst);
        std::mem::take(&mut guard.wakers)
    };
    state().1.notify_all();
    for wake in wakers {
        wake();
    }
}

/// Whether a stop was asked for. Loops between units of work check it.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::Relaxed)
}

/// The signal that asked for the stop ("SIGTERM", "SIGINT").
pub fn signal() -> Option<&'static str> {
    lock().signal
}

/// Runs `wake` when a stop is asked for (at once if it already was).
pub fn on_request(wake: impl FnOnce() + Send + 'static) {
    let mut guard = lock();
    if guard.signal.is_some() {
        drop(guard);
        wake();
    } else {
        guard.wakers.push(Box::new(wake));
    }
}

/// Blocks until a stop is asked for, or `timeout` passes; says whether one
/// was.
pub fn wait_timeout(timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let condvar = &state().1;
    let mut guard = lock();
    while guard.signal.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        guard = condvar
            .wait_timeout(guard, left)
            .unwrap_or_else(|p| p.into_inner())
            .0;
    }
    true
}

/// Blocks until a stop is asked for.
pub fn wait() {
    let (_, condvar) = state();
    let mut guard = lock();
    while guard.signal.is_none() {
        guard = condvar.wait(guard).unwrap_or_else(|p| p.into_inner());
    }
}

/// Sets what closing the process means (commit, checkpoint, the log line),
/// replacing any earlier steps. Run once, by [`finish`] or by the signal
/// thread when the main thread is too slow.
pub fn closing_steps(steps: impl FnOnce() + Send + 'static) {
    lock().closing = Some(Box::new(steps));
}

/// Runs the closing steps on this thread, unless the signal thread already
/// took them (it then exits the process; this call waits for that).
pub fn finish() {
    let mut guard = lock();
    if guard.closed {
        // The signal thread is closing and will exit the process.
        loop {
            guard = state().1.wait(guard).unwrap_or_else(|p| p.into_inner());
        }
    }
    guard.closed = true;
    let closing = guard.closing.take();
    drop(guard);
    state().1.notify_all();
    if let Some(closing) = closing {
        closing();
    }
}
