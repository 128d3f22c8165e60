//! Where the last panic on this thread happened: a panic hook that remembers the source location
//! (the runner reports a caught panic's message with it, so a finding names the line in the
//! engine that panicked). The hook prints nothing (the runner reports every panic it catches)
//! unless `WALSIM_PANIC_PRINT` is set in the environment: then it prints each panic's message and
//! place to stderr, which is how to see a panic that escapes the runner (a child process that
//! exits 101).

use std::cell::RefCell;

thread_local! {
    static SITE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs the hook (for the whole process; call once, before running seeds).
pub fn install_hook() {
    let print = std::env::var_os("WALSIM_PANIC_PRINT").is_some();
    std::panic::set_hook(Box::new(move |info| {
        let site = info.location().map(|location| {
            // A dependency's path from the registry root: `redb-4.6.0/src/...`.
            let file = location.file();
            let file = file
                .find("/registry/src/")
                .and_then(|at| file[at + "/registry/src/".len()..].split_once('/'))
                .map_or(file, |(_, rest)| rest);
            format!("{file}:{}", location.line())
        });
        if print {
            eprintln!("panic at {}: {info}", site.as_deref().unwrap_or("?"));
        }
        SITE.with(|cell| *cell.borrow_mut() = site);
    }));
}

/// The location of this thread's last panic since the last call, if the hook saw one.
pub fn take() -> Option<String> {
    SITE.with(|cell| cell.borrow_mut().take())
}
