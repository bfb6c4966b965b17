//! The scheduling policy of the server's own threads (`sched_batch`, on by default).
//!
//! A verification is handed from the async runtime's worker to the CPU pool and its answer handed
//! back: two wake-ups a request. Under the default policy (`SCHED_OTHER`) the kernel lets a woken
//! thread preempt the running one on the same core, so on a busy core every hand-off costs two
//! context switches, and the pool and the runtime take turns one request at a time. `SCHED_BATCH`
//! (sched(7): "the scheduler will always assume that the thread is CPU-intensive... this policy is
//! useful for workloads that are noninteractive, but do not want to lower their nice value, and for
//! workloads that want a deterministic scheduling policy without interactivity causing extra
//! preemptions") turns wake-up preemption off for these threads: the pool works through all the
//! queued verifications, then the runtime answers all of them. Measured on one core
//! (benches/load/licences.sh): about ten times fewer context switches and about a fifth more
//! verifications a second. Time slices, the nice value and fairness between processes are unchanged.
//!
//! Written by hand over libc: the one crate that sets the policy (`thread-priority`) also resets the
//! thread's nice value, which is the operator's to choose.

/// Put the calling thread under `SCHED_BATCH` (Linux; elsewhere nothing). A failure is logged and
/// otherwise ignored: the policy is a throughput setting, never a correctness one.
pub fn batch_this_thread() {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: pid 0 names the calling thread; `param` is a valid, initialised `sched_param`
        // that outlives the call, with the priority 0 that SCHED_BATCH requires.
        let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) };
        if rc != 0 {
            tracing::debug!(error = %std::io::Error::last_os_error(), "SCHED_BATCH not set");
        }
    }
}

/// The calling thread's policy is `SCHED_BATCH` (Linux; elsewhere false).
pub fn this_thread_is_batch() -> bool {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: pid 0 names the calling thread; the call reads no memory of ours.
        unsafe { libc::sched_getscheduler(0) == libc::SCHED_BATCH }
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(target_os = "linux")]
    fn a_thread_switches_to_batch_and_others_do_not() {
        let switched = std::thread::spawn(|| {
            super::batch_this_thread();
            super::this_thread_is_batch()
        })
        .join()
        .unwrap();
        assert!(switched);
        let untouched = std::thread::spawn(super::this_thread_is_batch)
            .join()
            .unwrap();
        assert!(!untouched);
    }
}
