//! A by-hand driver for the hub in virtual time: it carries out the hub's
//! actions on a model of connections and records everything the tests
//! check (answers, assignments, connections alive at once).

#![allow(dead_code)]

use sockless_core::{Duration, Instant};
use sockless_pool::{Action, ConnId, Error, Hub, Origin, Outcome, Protocol, RequestId, RequestOptions};
use std::collections::{BTreeMap, BTreeSet};

/// How a request was answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    Done,
    Failed(Error),
}

#[derive(Debug, Default)]
pub struct ConnModel {
    pub origin: Option<Origin>,
    pub connected: bool,
    /// Requests the hub assigned here and that are not finished.
    pub carrying: BTreeSet<RequestId>,
}

pub struct Driver {
    pub hub: Hub,
    pub now: Instant,
    pub conns: BTreeMap<ConnId, ConnModel>,
    /// Requests and the connection carrying them.
    pub assigned: BTreeMap<RequestId, ConnId>,
    /// Every assignment in order (retries included).
    pub assign_log: Vec<(RequestId, ConnId)>,
    pub answers: BTreeMap<RequestId, Answer>,
    pub answered_twice: Vec<RequestId>,
    /// Connect actions in order, with the time they came.
    pub dials: Vec<(Instant, ConnId)>,
    pub closes: Vec<(Instant, ConnId, sockless_pool::CloseReason)>,
    pub retries: Vec<(RequestId, sockless_pool::RetryReason)>,
    /// Most connections alive (dialled and not closed) at once, per origin.
    pub max_alive: BTreeMap<Origin, usize>,
    pub origins_of: BTreeMap<RequestId, Origin>,
}

impl Driver {
    pub fn new(config: sockless_pool::Config) -> Driver {
        Driver {
            hub: Hub::new(config),
            now: Instant::ZERO,
            conns: BTreeMap::new(),
            assigned: BTreeMap::new(),
            assign_log: Vec::new(),
            answers: BTreeMap::new(),
            answered_twice: Vec::new(),
            dials: Vec::new(),
            closes: Vec::new(),
            retries: Vec::new(),
            max_alive: BTreeMap::new(),
            origins_of: BTreeMap::new(),
        }
    }

    /// Carries out every action the hub has.
    pub fn drain(&mut self) {
        while let Some(action) = self.hub.poll_action() {
            match action {
                Action::Connect { conn, origin } => {
                    self.dials.push((self.now, conn));
                    self.conns.insert(conn, ConnModel { origin: Some(origin.clone()), ..ConnModel::default() });
                    let alive = self.conns.values().filter(|c| c.origin.as_ref() == Some(&origin)).count();
                    let max = self.max_alive.entry(origin).or_default();
                    *max = (*max).max(alive);
                }
                Action::Assign { request, conn } => {
                    let c = self.conns.get_mut(&conn).expect("assigned to a connection the driver has");
                    assert!(c.connected, "assigned to a connection not connected yet");
                    c.carrying.insert(request);
                    self.assigned.insert(request, conn);
                    self.assign_log.push((request, conn));
                }
                Action::Close { conn, reason } => {
                    self.closes.push((self.now, conn, reason));
                    self.conns.remove(&conn);
                }
                Action::Fail { request, error } => {
                    self.unassign(request);
                    self.answer(request, Answer::Failed(error));
                }
                Action::Retry { request, reason, .. } => {
                    self.unassign(request);
                    self.retries.push((request, reason));
                }
            }
        }
    }

    fn unassign(&mut self, request: RequestId) {
        if let Some(conn) = self.assigned.remove(&request) {
            if let Some(c) = self.conns.get_mut(&conn) {
                c.carrying.remove(&request);
            }
        }
    }

    fn answer(&mut self, request: RequestId, answer: Answer) {
        if self.answers.insert(request, answer).is_some() {
            self.answered_twice.push(request);
        }
    }

    pub fn submit(&mut self, origin: &Origin, options: RequestOptions) -> RequestId {
        let id = self.hub.submit(self.now, origin, options);
        self.origins_of.insert(id, origin.clone());
        self.drain();
        id
    }

    /// Dials still connecting, oldest first.
    pub fn connecting(&self) -> Vec<ConnId> {
        self.conns.iter().filter(|(_, c)| !c.connected).map(|(&id, _)| id).collect()
    }

    pub fn connect(&mut self, conn: ConnId, protocol: Protocol) {
        self.conns.get_mut(&conn).expect("a dial").connected = true;
        self.hub.handle_connected(self.now, conn, protocol);
        self.drain();
    }

    pub fn connect_all(&mut self, protocol: Protocol) {
        for conn in self.connecting() {
            self.connect(conn, protocol);
        }
    }

    pub fn fail_connect(&mut self, conn: ConnId) {
        self.conns.remove(&conn);
        self.hub.handle_connect_failed(self.now, conn);
        self.drain();
    }

    /// The whole exchange of `request`: head, body, end (and on HTTP/1.1
    /// the connection's readiness).
    pub fn complete(&mut self, request: RequestId) {
        let conn = self.assigned[&request];
        let h1 = self.hub.protocol_of(conn) == Some(Protocol::Http1);
        self.hub.handle_request_started(self.now, request, None);
        self.hub.handle_request_sent(self.now, request);
        self.hub.handle_response_head(self.now, request, 100);
        self.hub.handle_response_data(self.now, request, 10);
        self.hub.handle_outcome(self.now, request, Outcome::Complete);
        self.unassign(request);
        self.answer(request, Answer::Done);
        if h1 {
            self.hub.handle_ready(self.now, conn);
        }
        self.drain();
    }

    /// The peer closed `conn`; each request on it ends with `outcome`.
    pub fn peer_close(&mut self, conn: ConnId, outcome: Outcome) {
        let carrying: Vec<RequestId> =
            self.conns.remove(&conn).map(|c| c.carrying.into_iter().collect()).unwrap_or_default();
        self.hub.handle_closed(self.now, conn);
        self.drain();
        for r in carrying {
            self.assigned.remove(&r);
            self.hub.handle_outcome(self.now, r, outcome);
            self.drain();
        }
    }

    /// Moves virtual time to `t`, firing the hub's deadlines on the way.
    pub fn advance_to(&mut self, t: Instant) {
        while let Some(deadline) = self.hub.poll_timeout() {
            if deadline > t {
                break;
            }
            self.now = self.now.max(deadline);
            self.hub.handle_timeout(self.now);
            self.drain();
        }
        self.now = self.now.max(t);
    }

    pub fn advance(&mut self, d: Duration) {
        self.advance_to(self.now + d);
    }

    pub fn alive(&self) -> usize {
        self.conns.len()
    }
}

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

pub fn at(s: f64) -> Instant {
    Instant::from_nanos((s * 1e9) as u64)
}
