//! Protocol upgrades for tower services: after a `101 Switching Protocols`
//! (or a 2xx to CONNECT) the driver hands the connection's transport to the
//! application. This is sockless's counterpart of `hyper::upgrade::on`:
//! the request carries an [`Upgrade`] extension, and the service, once it
//! answered, gets the [`Upgraded`] transport from it.
//!
//! axum's `WebSocketUpgrade` extractor looks for hyper's private upgrade
//! extension, so on sockless it answers `426 Upgrade Required`; take
//! `Extension<sockless_tower::Upgrade>` instead (see the `websocket_echo`
//! example).

use sockless_rt::{OnUpgrade, Upgraded};
use std::fmt;
use std::future::Future;
use std::io;
use std::sync::{Arc, Mutex};

/// The upgrade of a request that may switch protocols (an HTTP/1.1 request
/// with an `Upgrade` field, or CONNECT), in its extensions.
///
/// Clones share one upgrade (request extensions are cloned as middleware
/// passes them on): the first [`on`](Self::on) gets the transport.
///
/// ```no_run
/// use axum::{extract::Extension, http::StatusCode, routing::any, Router};
/// use sockless_tower::Upgrade;
///
/// // A CONNECT tunnel that echoes back what the client sends.
/// let app: Router = Router::new().route(
///     "/",
///     any(|Extension(upgrade): Extension<Upgrade>| async move {
///         tokio::spawn(async move {
///             let Ok(mut tunnel) = upgrade.on().await else { return };
///             let mut buf = [0u8; 4096];
///             while let Ok(n @ 1..) = tunnel.read(&mut buf).await {
///                 if tunnel.write_all(&buf[..n]).await.is_err() {
///                     break;
///                 }
///             }
///         });
///         StatusCode::OK
///     }),
/// );
/// ```
#[derive(Clone)]
pub struct Upgrade(Arc<Mutex<Option<OnUpgrade>>>);

impl Upgrade {
    pub(crate) fn new(on: OnUpgrade) -> Upgrade {
        Upgrade(Arc::new(Mutex::new(Some(on))))
    }

    /// The connection's transport, once the response went out: completes
    /// with an error if the response did not switch protocols (not a `101`
    /// or a 2xx to CONNECT), the connection ended first, or another clone
    /// took the upgrade already.
    pub fn on(&self) -> impl Future<Output = io::Result<Upgraded>> + Send + 'static {
        let taken = self.0.lock().unwrap_or_else(|e| e.into_inner()).take();
        async move {
            match taken {
                Some(on) => on.await,
                None => Err(io::Error::other("the upgrade was taken already")),
            }
        }
    }
}

impl fmt::Debug for Upgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Upgrade")
    }
}

/// Takes the upgrade of `request`, as `hyper::upgrade::on` does: the
/// future completes with the transport once the service's `101` (or 2xx to
/// CONNECT) went out; with an error for a request that cannot upgrade.
pub fn on<B>(request: &mut http::Request<B>) -> impl Future<Output = io::Result<Upgraded>> + Send + 'static {
    let upgrade = request.extensions_mut().remove::<Upgrade>();
    async move {
        match upgrade {
            Some(upgrade) => upgrade.on().await,
            None => Err(io::Error::other("the request cannot upgrade (no Upgrade field, not CONNECT)")),
        }
    }
}
