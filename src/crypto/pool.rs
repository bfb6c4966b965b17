//! A fixed pool of threads for short CPU-bound work (licence verification: one ES256 check plus
//! parsing, about 0.1 ms), kept off the async runtime's threads.
//!
//! `tokio::task::spawn_blocking` would do, but its pool grows a thread per concurrent call (up to 512):
//! under load, dozens of threads take turns on the cores and every call pays a thread wake-up and a
//! context switch. Here a fixed number of threads (one per core) take jobs from one queue; a busy
//! thread takes the next job without sleeping, so under load the hand-off costs no system call.
//! (rayon's global pool would also do; a dedicated pool keeps verification from queueing behind
//! anything else and keeps the bound explicit.)

use std::sync::Arc;

use crossbeam_channel::{bounded, Sender};

type Job = Box<dyn FnOnce() + Send + 'static>;

/// Cheap to clone; the threads end when the last clone is dropped.
#[derive(Clone)]
pub struct CpuPool {
    jobs: Arc<Sender<Job>>,
}

#[derive(Debug, thiserror::Error)]
#[error("the CPU pool has shut down")]
pub struct PoolClosed;

impl CpuPool {
    /// `threads` workers (at least one) and a queue of `4096` waiting jobs; beyond that, `run` waits
    /// for room (back-pressure on the caller's task, not on a thread). `batch`: the threads run under
    /// `SCHED_BATCH` (see [`crate::sched`]).
    pub fn new(threads: usize, name: &str, batch: bool) -> std::io::Result<Self> {
        let (tx, rx) = bounded::<Job>(4096);
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(move || {
                    if batch {
                        crate::sched::batch_this_thread();
                    }
                    while let Ok(job) = rx.recv() {
                        job();
                    }
                })?;
        }
        Ok(Self { jobs: Arc::new(tx) })
    }

    /// One thread per available core.
    pub fn per_core(name: &str, batch: bool) -> std::io::Result<Self> {
        let n = std::thread::available_parallelism().map_or(1, usize::from);
        Self::new(n, name, batch)
    }

    /// Run `f` on a pool thread and await its result.
    pub async fn run<T, F>(&self, f: F) -> Result<T, PoolClosed>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(f());
        });
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(crossbeam_channel::TrySendError::Full(job)) => {
                // The queue is full: wait for room on a blocking thread, not on the runtime.
                let jobs = self.jobs.clone();
                tokio::task::spawn_blocking(move || jobs.send(job).map_err(|_| PoolClosed))
                    .await
                    .map_err(|_| PoolClosed)??;
            }
            Err(crossbeam_channel::TrySendError::Disconnected(_)) => return Err(PoolClosed),
        }
        result.await.map_err(|_| PoolClosed)
    }
}

#[cfg(test)]
mod tests {
    use super::CpuPool;

    #[tokio::test]
    async fn runs_jobs_off_the_runtime_and_returns_their_results() {
        let pool = CpuPool::new(2, "test-pool", false).unwrap();
        let runtime_thread = std::thread::current().id();
        let mut handles = Vec::new();
        for i in 0..100u64 {
            let p = pool.clone();
            handles.push(tokio::spawn(async move {
                p.run(move || (i * 2, std::thread::current().id()))
                    .await
                    .unwrap()
            }));
        }
        for (i, h) in handles.into_iter().enumerate() {
            let (v, thread) = h.await.unwrap();
            assert_eq!(v, i as u64 * 2);
            assert_ne!(thread, runtime_thread);
        }
    }

    #[tokio::test]
    async fn batch_pools_run_under_sched_batch() {
        let batch = CpuPool::new(1, "test-batch", true).unwrap();
        let normal = CpuPool::new(1, "test-normal", false).unwrap();
        let linux = cfg!(target_os = "linux");
        assert_eq!(
            batch.run(crate::sched::this_thread_is_batch).await.unwrap(),
            linux
        );
        assert!(!normal
            .run(crate::sched::this_thread_is_batch)
            .await
            .unwrap());
    }
}
