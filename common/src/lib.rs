//! What `onair-relay` and `onair` share: the config file, the one event shape, Twitch's EventSub
//! envelope, and the relay's WebSocket wire protocol.

pub mod catalog;
pub mod config;
pub mod event;
pub mod eventsub;
pub mod guide;
pub mod logging;
pub mod secret;
pub mod time;
pub mod twitch;
pub mod wire;

pub use config::Config;
pub use event::Event;
pub use secret::Secret;

/// Runs the relay's async `main` on a multi-threaded runtime; a runtime that cannot start is a
/// plain failure, not a panic.
pub fn block_on(
    main: impl std::future::Future<Output = std::process::ExitCode>,
) -> std::process::ExitCode {
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    // Tokio's default is 512 threads for blocking work. The relay's store reads run there (at
    // most 8 at once), and under a burst of connecting sockets the pool still grew to a hundred
    // idle threads, each holding its stack and a malloc arena: memory every socket paid for.
    // Work beyond this waits for a thread instead.
    rt.max_blocking_threads(8);
    run(rt, main)
}

/// Runs the terminal client's async `main` on one thread. It reads a socket or two and draws:
/// on a multi-threaded runtime every batch of chat the network task handed to the drawing loop
/// woke another thread, about a tenth of the app's CPU under a chat flood. Blocking work (the
/// keyring, files) still goes to `spawn_blocking`'s threads.
pub fn block_on_single(
    main: impl std::future::Future<Output = std::process::ExitCode>,
) -> std::process::ExitCode {
    run(tokio::runtime::Builder::new_current_thread(), main)
}

fn run(
    mut rt: tokio::runtime::Builder,
    main: impl std::future::Future<Output = std::process::ExitCode>,
) -> std::process::ExitCode {
    match rt.enable_all().build() {
        Ok(rt) => rt.block_on(main),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
