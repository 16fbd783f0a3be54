//! A loop thread's ring: created with the flags that suit one issuer where
//! the kernel has them, and a clear error where io_uring is refused.

use io_uring::IoUring;
use std::io;

/// Submission queue entries per ring (the completion queue is twice that).
pub(crate) const ENTRIES: u32 = 1024;

/// What the ring was set up with, for tests and the start-up log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RingFlags {
    /// `IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN` (Linux
    /// 6.1+): completions run only when the loop waits, on its thread.
    SingleIssuerDeferTaskrun,
    /// `IORING_SETUP_COOP_TASKRUN` (Linux 5.19+): no interrupt to run
    /// completions while the loop is busy.
    CoopTaskrun,
    /// No setup flags (older kernels).
    Plain,
}

/// Makes a ring, trying the flags newest first. Fails with
/// [`io::ErrorKind::Unsupported`] and a message that says why where the
/// kernel refuses io_uring itself (seccomp, `kernel.io_uring_disabled`, a
/// kernel before 5.11, which lacks the timeout argument of `io_uring_enter`
/// the loop waits with).
/// Sets a builder's flags for one [`RingFlags`].
type SetFlags = fn(&mut io_uring::Builder);

pub(crate) fn new_ring() -> io::Result<(IoUring, RingFlags)> {
    let attempts: [(RingFlags, SetFlags); 3] = [
        (RingFlags::SingleIssuerDeferTaskrun, |b| {
            b.setup_single_issuer().setup_defer_taskrun();
        }),
        (RingFlags::CoopTaskrun, |b| {
            b.setup_coop_taskrun();
        }),
        (RingFlags::Plain, |_| {}),
    ];
    let mut last = None;
    for (flags, set) in attempts {
        let mut builder = IoUring::builder();
        set(&mut builder);
        match builder.build(ENTRIES) {
            Ok(ring) => {
                if !ring.params().is_feature_ext_arg() {
                    return Err(unavailable("the kernel lacks IORING_FEAT_EXT_ARG (Linux 5.11)"));
                }
                return Ok((ring, flags));
            }
            // An unknown setup flag: try the next, older set.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => last = Some(e),
            Err(e) => return Err(refused(e)),
        }
    }
    Err(refused(last.unwrap_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))))
}

fn unavailable(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::Unsupported, format!("io_uring is not available: {why}"))
}

fn refused(e: io::Error) -> io::Error {
    let why = match e.raw_os_error() {
        Some(libc::ENOSYS) => "the kernel has no io_uring (ENOSYS)".to_string(),
        Some(libc::EPERM) => {
            "io_uring_setup was refused (EPERM: kernel.io_uring_disabled, or a seccomp filter)".to_string()
        }
        _ => format!("io_uring_setup failed: {e}"),
    };
    unavailable(&why)
}

/// Whether this kernel lets the process use io_uring, and with which
/// flags; `Err` says why not (what [`serve`](crate::serve) fails with at
/// start-up).
///
/// The probe ring is made and dropped on a thread of its own: a ring's
/// teardown sends task work to every thread that used it, which breaks off
/// a blocking socket call with a timeout on that thread (EINTR), and the
/// caller's threads are none of this crate's business.
pub fn probe() -> io::Result<RingFlags> {
    std::thread::scope(|s| s.spawn(|| new_ring().map(|(_, flags)| flags)).join())
        .unwrap_or_else(|_| Err(io::Error::other("the io_uring probe panicked")))
}
