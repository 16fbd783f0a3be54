//! The h2c Upgrade on the server (RFC 7540 section 3.2): the request held
//! while its body arrives, the `101`, and the switch to HTTP/2.

use super::{Inner, ServerConnection};
use bytes::{Bytes, BytesMut};
use sockless_core::{Connection, Event, HeaderList, RequestHead, ResponseHead, StreamId, UserError};
use sockless_h2::{decode_settings_header, H2Connection};

/// An h2c Upgrade (RFC 7540 section 3.2) under way: the request is held
/// until its body is complete, then answered `101` and handed to HTTP/2 as
/// stream 1. Its body arrives over HTTP/1.1 and is kept here, within
/// `h1.max_buffered_events` bytes: past that the upgrade is declined and the
/// request goes on over HTTP/1.1 (a server may ignore an Upgrade).
pub(super) struct Upgrade {
    /// The HTTP/1.1 exchange carrying the request.
    stream: StreamId,
    head: RequestHead,
    expects_continue: bool,
    /// The decoded `HTTP2-Settings` payload.
    settings: Vec<u8>,
    /// The body so far, copied into one buffer (a body of one-byte chunks
    /// costs its bytes, not an event per byte).
    body: BytesMut,
    trailers: Option<HeaderList>,
    /// The request is complete and the `101` queued: the switch happens at
    /// HTTP/1.1's `Upgrade` event, once the `101` is written.
    answered: bool,
}

impl ServerConnection {
    /// Whether an HTTP/1.1 request asks to switch to h2c, with its settings.
    fn h2c_settings(head: &RequestHead) -> Option<Vec<u8>> {
        let upgrade = head.headers.get_all("upgrade").any(|v| v.eq_ignore_ascii_case(b"h2c"));
        let connection = head.headers.get_all("connection").any(|v| {
            v.split(|&b| b == b',').any(|t| {
                let t = t.trim_ascii();
                t.eq_ignore_ascii_case(b"upgrade")
            })
        });
        if !upgrade || !connection || head.headers.get_all("http2-settings").count() != 1 {
            return None;
        }
        decode_settings_header(head.headers.get("http2-settings")?)
    }

    /// Looks at an event of the protocol in use: what an h2c Upgrade takes
    /// in is absorbed (`None`), the rest is delivered.
    pub(super) fn on_event(&mut self, event: Event) -> Option<Event> {
        let Some(upgrade) = &mut self.upgrade else {
            return match event {
                Event::Request { stream, head, expects_continue } => self.on_request(stream, head, expects_continue),
                other => Some(other),
            };
        };
        match event {
            Event::Data { stream, data } if stream == upgrade.stream && !upgrade.answered => {
                if upgrade.body.len() + data.len() > self.config.h1.max_buffered_events {
                    return self.decline(Event::Data { stream, data });
                }
                upgrade.body.extend_from_slice(&data);
                None
            }
            Event::Trailers { stream, trailers } if stream == upgrade.stream && !upgrade.answered => {
                upgrade.trailers = Some(trailers);
                None
            }
            Event::EndStream { stream } if stream == upgrade.stream && !upgrade.answered => {
                let switch = ResponseHead::new(101).header("Connection", "Upgrade").header("Upgrade", "h2c");
                let sent = match &mut self.inner {
                    Inner::H1(h1) => h1.send_response(stream, &switch, false),
                    _ => Err(UserError::WrongRole.into()),
                };
                match sent {
                    Ok(()) => {
                        upgrade.answered = true;
                        None
                    }
                    // The exchange is gone (reset, shut down): HTTP/1.1 goes on.
                    Err(_) => self.decline(Event::EndStream { stream }),
                }
            }
            Event::Upgrade { leftover, .. } if upgrade.answered => self.switch(leftover),
            // Anything else (an error, the connection closing) ends the
            // upgrade: the request is delivered as HTTP/1.1's, then the event.
            other if !upgrade.answered => self.decline(other),
            other => Some(other),
        }
    }

    /// An HTTP/1.1 request: held if it asks for h2c (and may have it),
    /// else delivered.
    fn on_request(&mut self, stream: StreamId, head: RequestHead, expects_continue: bool) -> Option<Event> {
        let Inner::H1(h1) = &mut self.inner else {
            return Some(Event::Request { stream, head, expects_continue });
        };
        let settings = match (self.config.no_h2c_upgrade, h1.upgrade_requested(stream)) {
            (false, true) => Self::h2c_settings(&head),
            _ => None,
        };
        // Reading the body (after `100 Continue` if asked for) is how the
        // upgrade gets to the 101.
        let Some(settings) = settings.filter(|_| h1.read_body(stream).is_ok()) else {
            return Some(Event::Request { stream, head, expects_continue });
        };
        self.upgrade = Some(Upgrade {
            stream,
            head,
            expects_continue,
            settings,
            body: BytesMut::new(),
            trailers: None,
            answered: false,
        });
        None
    }

    /// Gives up an upgrade that was not answered yet: the request and what
    /// was held of its body are delivered as HTTP/1.1's, then `then`.
    fn decline(&mut self, then: Event) -> Option<Event> {
        let Upgrade { stream, head, expects_continue, body, trailers, .. } = self.upgrade.take()?;
        self.pending.push_back(Event::Request { stream, head, expects_continue });
        if !body.is_empty() {
            self.pending.push_back(Event::Data { stream, data: body.freeze() });
        }
        if let Some(trailers) = trailers {
            self.pending.push_back(Event::Trailers { stream, trailers });
        }
        self.pending.push_back(then);
        self.pending.pop_front()
    }

    /// The 101 is written: HTTP/2 takes over with the request as stream 1
    /// (its head, the body and trailers read so far; its end comes from
    /// HTTP/2), then reads what followed the request.
    fn switch(&mut self, leftover: Bytes) -> Option<Event> {
        let Upgrade { mut head, settings, body, trailers, .. } = self.upgrade.take()?;
        head.version = sockless_core::Version::Http2;
        head.headers = without_connection_fields(&head.headers);
        let now = self.now;
        let mut h2 = match H2Connection::server_from_upgrade(self.config.h2.clone(), now, &settings, head) {
            Ok(h2) => h2,
            Err(e) => return Some(Event::Error(e)),
        };
        let one = StreamId::new(1);
        if let Some(request) = h2.poll_event() {
            self.pending.push_back(request);
        }
        if !body.is_empty() {
            self.uncounted = body.len();
            self.pending.push_back(Event::Data { stream: one, data: body.freeze() });
        }
        if let Some(trailers) = trailers {
            self.pending.push_back(Event::Trailers { stream: one, trailers });
        }
        self.inner = Inner::H2(Box::new(h2));
        self.unfed.hold_bytes(leftover);
        // An error is queued as HTTP/2's `Error` event, after stream 1's.
        let _ = self.feed_unfed(now);
        None
    }
}

/// An HTTP/1.1 request's fields as an HTTP/2 request carries them: without
/// the connection-specific ones (RFC 9113 section 8.2.2, RFC 9110 section
/// 7.6.1): `Connection` and the fields it names, `Upgrade`,
/// `HTTP2-Settings`, `Keep-Alive`, `Proxy-Connection`, `Transfer-Encoding`,
/// and `TE` other than `trailers`. An application must not see a stream-1
/// request that says it is chunked or asks for an upgrade.
fn without_connection_fields(fields: &HeaderList) -> HeaderList {
    const ALWAYS: [&[u8]; 6] =
        [b"connection", b"upgrade", b"http2-settings", b"keep-alive", b"proxy-connection", b"transfer-encoding"];
    let named: Vec<&[u8]> = fields
        .get_all("connection")
        .flat_map(|v| v.split(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
        .filter(|t| !t.is_empty())
        .collect();
    let mut kept = HeaderList::new();
    for (name, value) in fields {
        let connection_specific = ALWAYS.iter().chain(&named).any(|n| n.eq_ignore_ascii_case(name))
            || (name.eq_ignore_ascii_case(b"te") && !value.trim_ascii().eq_ignore_ascii_case(b"trailers"));
        if !connection_specific {
            kept.push(name, value);
        }
    }
    kept
}
